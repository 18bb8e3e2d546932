"""Vectorised column strategies: numpy/pyarrow arrays from (stream, row indexes), no per-row Python.

Datasets compose these: keyed UUIDs, integer key ranges, timestamps in a window, weighted choices,
exact quotas, variable-length samples without replacement, and JSON text built from pre-escaped
pools.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from fractions import Fraction

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import ArrayLike, NDArray

from generator.rng import Stream, as_index, mix64, name_key, permute

_SAMPLE_CHUNK = 8192
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_UUID_DASHES = (8, 13, 18, 23)
_UUID_HEX_POS = np.array([p for p in range(36) if p not in _UUID_DASHES])


def uuid4_strings(key: np.uint64, idx: ArrayLike) -> pa.StringArray:
    """RFC 4122 version-4 UUID text, a pure function of (key, index): a keyed UUID key space.

    Two mixed 64-bit words give 128 bits; the version nibble and variant bits are then set, so
    122 bits stay random (collision odds ~n^2/2^123).
    """
    i = as_index(idx)
    with np.errstate(over="ignore"):
        hi = mix64(mix64(i) ^ key)
        lo = mix64(hi ^ mix64(i + np.uint64(0x632BE59BD9B4E019)) ^ key)
    return uuid_text(hi, lo, version=4)


def uuid_text(hi: NDArray[np.uint64], lo: NDArray[np.uint64], version: int) -> pa.StringArray:
    """Two 64-bit words as RFC 4122 UUID text, with ``version`` and the variant bits set."""
    raw = np.empty((len(hi), 16), dtype=np.uint8)
    raw[:, :8] = hi.astype(">u8").view(np.uint8).reshape(-1, 8)
    raw[:, 8:] = lo.astype(">u8").view(np.uint8).reshape(-1, 8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | (version << 4)
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    nibbles = np.empty((len(hi), 32), dtype=np.uint8)
    nibbles[:, 0::2] = raw >> 4
    nibbles[:, 1::2] = raw & 0x0F
    text = np.full((len(hi), 36), ord("-"), dtype=np.uint8)
    text[:, _UUID_HEX_POS] = _HEX[nibbles]
    return fixed_width_strings(text)


def fixed_width_strings(chars: NDArray[np.uint8]) -> pa.StringArray:
    """Rows of a 2-D ASCII byte matrix as a pyarrow string array (zero-copy offsets)."""
    n, width = chars.shape
    offsets = pa.array(np.arange(0, (n + 1) * width, width, dtype=np.int32))
    data = pa.py_buffer(np.ascontiguousarray(chars).tobytes())
    return pa.StringArray.from_buffers(n, offsets.buffers()[1], data)


def uuid_key_space(seed: int, table: str) -> np.uint64:
    return name_key(seed, table, "uuid-key-space")


def timestamps(
    stream: Stream, idx: ArrayLike, low: datetime, high: datetime, draw: int = 0
) -> NDArray[np.int64]:
    """Whole seconds uniform in [low, high] as epoch seconds (naive datetimes taken as UTC)."""
    lo, hi = _epoch(low), _epoch(high)
    return stream.integers(idx, lo, hi, draw)


def _epoch(value: datetime) -> int:
    return int((np.datetime64(value.replace(tzinfo=None), "s") - np.datetime64(0, "s")).astype(int))


def seconds_to_timestamp(seconds: ArrayLike, mask: ArrayLike | None = None) -> pa.Array:
    """Epoch seconds to ``timestamp[us]``; ``mask`` marks nulls."""
    arr = np.asarray(seconds, dtype=np.int64).astype("datetime64[s]").astype("datetime64[us]")
    return pa.array(arr, type=pa.timestamp("us"), mask=None if mask is None else np.asarray(mask))


def pick(values: Sequence[str], index: ArrayLike) -> pa.Array:
    """``values[index]`` as a string array (dictionary decoded)."""
    return pc.take(pa.array(list(values), pa.string()), pa.array(np.asarray(index)))


def quota(stream: Stream, idx: ArrayLike, n: int, counts: Sequence[int]) -> NDArray[np.int64]:
    """Assign category ``k`` to exactly ``counts[k]`` of the ``n`` rows (the rest: ``len(counts)``).

    Rows are ranked by a keyed permutation of ``[0, n)`` and categories fill the ranks in order:
    exact shares by sampling without replacement, independent of sharding.
    """
    rank = permute(idx, n, stream.key)
    bounds = np.cumsum(np.asarray(counts, dtype=np.int64))
    return np.searchsorted(bounds, rank, side="right")


def quota_counts(n: int, weights: Sequence[float]) -> list[int]:
    """Split ``n`` into integer counts proportional to ``weights`` (largest remainder).

    Exact: each weight is the decimal it was written as (``0.3`` is 3/10), the rest rational
    arithmetic, so a tie is a tie on every machine (ties go to the earlier weight). In floats,
    2 split 0.3 : 0.1 tied up to rounding noise, and the noise decided.
    """
    if not weights or not all(math.isfinite(x) and x >= 0 for x in weights) or not any(weights):
        raise ValueError(f"quota weights must be finite, >= 0 and not all zero: {list(weights)}")
    w = [written_decimal(x) for x in weights]
    total = sum(w)
    exact = [n * x / total for x in w]
    counts = [math.floor(e) for e in exact]
    order = sorted(range(len(w)), key=lambda k: (counts[k] - exact[k], k))
    for k in order[: n - sum(counts)]:
        counts[k] += 1
    return counts


def written_decimal(x: float) -> Fraction:
    """A float as the decimal it was written as (its shortest round-trip text), exactly."""
    return Fraction(repr(float(x)))


def sample_lists(
    stream: Stream,
    idx: ArrayLike,
    pool_size: int,
    k_min: int,
    k_max: int | ArrayLike,
    allowed: NDArray[np.bool_] | None = None,
    weights: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
    """Per row, ``k`` distinct pool indexes (k uniform in [k_min, k_max]) in random order.

    ``k`` is capped at the pool size (and, with ``allowed``, at the row's allowed items).

    Every (row, pool item) pair gets a keyed random rank; a row's sample is its ``k`` best-ranked
    allowed items, so it is a sample without replacement that depends only on the row index.
    ``allowed`` (rows x pool) excludes items per row; ``k_max`` may be per row.
    ``weights`` (one per pool item, > 0) make it a weighted sample without replacement: the rank
    is an exponential race ``-ln(u) / w`` (Efraimidis-Spirakis keys ``u ** (1 / w)``, taken
    in log space), so heavier items come first more often; without weights the order is the
    plain uniform rank.
    Returns (offsets, values) for a list array.
    """
    i = as_index(idx)
    n = len(i)
    kmax = np.broadcast_to(np.asarray(k_max, dtype=np.int64), (n,))
    if n > _SAMPLE_CHUNK:  # bound the rows x pool rank matrix, whatever the shard size
        parts = [
            sample_lists(
                stream,
                i[a : a + _SAMPLE_CHUNK],
                pool_size,
                k_min,
                kmax[a : a + _SAMPLE_CHUNK],
                None if allowed is None else allowed[a : a + _SAMPLE_CHUNK],
                weights,
            )
            for a in range(0, n, _SAMPLE_CHUNK)
        ]
        offsets = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(np.concatenate([np.diff(o) for o, _ in parts]), out=offsets[1:])
        return offsets, np.concatenate([v for _, v in parts])
    k = k_min + np.floor(stream.sub("k").uniform(i) * (kmax - k_min + 1)).astype(np.int64)
    k = np.minimum(k, pool_size)  # a row cannot hold more distinct items than the pool has
    rank = stream.sub("rank").grid(i, pool_size)
    if weights is not None:  # exponential race: ln(u) / w, negated so that smaller is first
        rank = np.log(rank) * (-1.0 / weights[None, :]).astype(np.float32)
    if allowed is not None:
        rank = np.where(allowed, rank, np.inf)
        k = np.minimum(k, allowed.sum(axis=1))
    order = _stable_order(rank)
    keep = np.arange(pool_size)[None, :] < k[:, None]
    values = order[keep]
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(k, out=offsets[1:])
    return offsets, values.astype(np.int64)


def _stable_order(rank: NDArray[np.float32]) -> NDArray[np.int64]:
    """``argsort(rank, axis=1, kind="stable")`` for non-negative float32 ranks, faster: each
    rank's bits (monotone for non-negative floats) and its column are packed into one uint64
    and sorted by value, so ties go to the lower column exactly as a stable sort orders them."""
    columns = rank.shape[1]
    shift = np.uint64(max(1, (columns - 1).bit_length()))
    packed = rank.astype(np.float32).view(np.uint32).astype(np.uint64) << shift
    packed |= np.arange(columns, dtype=np.uint64)[None, :]
    packed.sort(axis=1)
    return (packed & ((np.uint64(1) << shift) - np.uint64(1))).astype(np.int64)


def json_text_pool(values: Sequence[str]) -> pa.StringArray:
    """Each value JSON-encoded once (quoted, escaped), ready to be joined into JSON arrays."""
    return pa.array([json.dumps(v, ensure_ascii=False) for v in values], pa.string())


def join_lists(
    offsets: NDArray[np.int32], values: NDArray[np.int64], pool: pa.StringArray, sep: str
) -> pa.StringArray:
    """Join each row's pool items with ``sep`` (vectorised ``binary_join``)."""
    items = pc.take(pool, pa.array(values))
    lists = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), items)
    return pc.binary_join(lists, sep)


def json_arrays(
    offsets: NDArray[np.int32], values: NDArray[np.int64], json_pool: pa.StringArray
) -> pa.StringArray:
    """Rows of JSON array text, e.g. ``["a", "b"]``, from a ``json_text_pool``."""
    body = join_lists(offsets, values, json_pool, ", ")
    return concat("[", body, "]")


def concat(*parts: pa.Array | str) -> pa.StringArray:
    """Element-wise string concatenation of arrays and literals."""
    return pc.binary_join_element_wise(*parts, "")


def round_to(values: NDArray[np.float64], decimals: int) -> NDArray[np.float64]:
    return np.round(values, decimals)
