"""Primitives the spec adds to ``generator.columns``: short keyed ids, time-ordered UUIDs,
continuous distributions, children-per-parent counts, seeded Faker value pools, and JSON /
PostgreSQL-array text. All vectorised, all pure functions of (stream or key, row index).
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from faker import Faker
from numpy.typing import ArrayLike, NDArray

from generator.columns import fixed_width_strings, uuid_text
from generator.rng import Stream, as_index, mix64, name_key
from seedgen.errors import SpecError

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
_NANO = np.frombuffer(b"useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict", np.uint8)
_V7_EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z: the first row's time stamp


def _words(key: np.uint64, idx: ArrayLike, n: int) -> list[NDArray[np.uint64]]:
    i = as_index(idx)
    with np.errstate(over="ignore"):
        return [
            mix64(mix64(i + np.uint64(w) * np.uint64(0x9E3779B97F4A7C15)) ^ key) for w in range(n)
        ]


def nanoid_strings(key: np.uint64, idx: ArrayLike, length: int = 21) -> pa.StringArray:
    """Url-safe ids of ``length`` chars, 6 random bits each (21 chars: 126 bits), keyed."""
    words = _words(key, idx, 3)
    chars = np.empty((len(words[0]), length), dtype=np.uint8)
    for pos in range(length):
        word, slot = divmod(pos, 7)
        chars[:, pos] = _NANO[
            ((words[word] >> np.uint64(6 * slot)) & np.uint64(63)).astype(np.int64)
        ]
    return fixed_width_strings(chars)


def uuid7_strings(key: np.uint64, idx: ArrayLike) -> pa.StringArray:
    """RFC 9562 version-7 UUIDs: 48-bit milliseconds rising with the row (one per ms from
    2024-01-01), then 74 keyed random bits, so a btree primary key only ever appends."""
    i = as_index(idx)
    hi_rand, lo = _words(key, i, 2)
    ms = (i + np.uint64(_V7_EPOCH_MS)) & np.uint64((1 << 48) - 1)
    hi = (ms << np.uint64(16)) | (hi_rand & np.uint64(0xFFFF))
    return uuid_text(hi, lo, version=7)


# --------------------------------------------------------------------------- distributions


def normal(stream: Stream, idx: ArrayLike, mean: float, sd: float) -> F64:
    """Box-Muller over two addressed draws of the row."""
    u1 = 1.0 - stream.uniform(idx, 0)
    u2 = stream.uniform(idx, 1)
    return mean + sd * np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def exponential(stream: Stream, idx: ArrayLike, mean: float) -> F64:
    return -mean * np.log1p(-stream.uniform(idx))


def pareto(stream: Stream, idx: ArrayLike, alpha: float, low: float) -> F64:
    return low / np.power(1.0 - stream.uniform(idx), 1.0 / alpha)


def counts(stream: Stream, idx: ArrayLike, spec: Any) -> I64:
    """Children of each parent row (``spec``: a ``Count``), by inverse CDF of one draw."""
    if spec.kind == "fixed":
        return np.full(len(as_index(idx)), spec.n, dtype=np.int64)
    if spec.kind == "uniform":
        return stream.integers(idx, spec.min, spec.max)
    u = stream.uniform(idx)
    if spec.kind == "geometric":  # mean m: P(k) = p (1-p)^k with p = 1 / (1 + m)
        p = 1.0 / (1.0 + spec.mean)
        return np.asarray(np.floor(np.log1p(-u) / np.log1p(-p)), dtype=np.int64)
    cdf, low = _cdf_table(spec.kind, spec.mean, spec.min, spec.max, spec.s)
    picked = np.searchsorted(cdf, u, side="right").clip(0, len(cdf) - 1)
    return np.asarray(low + picked, dtype=np.int64)


@lru_cache(maxsize=64)
def _cdf_table(
    kind: str, mean: float | None, low: int, high: int | None, s: float
) -> tuple[F64, int]:
    if kind == "poisson":
        assert mean is not None
        top = int(mean + 12 * np.sqrt(mean) + 12)
        k = np.arange(top + 1, dtype=np.float64)
        log_fact = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, top + 1)))])
        pmf = np.exp(k * np.log(mean) - mean - log_fact)
        return np.cumsum(pmf) / pmf.sum(), 0
    assert high is not None
    rank = np.arange(1, high - low + 2, dtype=np.float64)  # count low + r - 1 has P ~ r**-s
    pmf = np.power(rank, -s)
    return np.cumsum(pmf) / pmf.sum(), low


# --------------------------------------------------------------------------- pools


@lru_cache(maxsize=64)
def faker_values(seed: int, provider: str, locale: str, size: int, lower: bool) -> tuple[str, ...]:
    """Up to ``size`` distinct values of a Faker provider, from a per-instance seeded Faker."""
    fake = Faker(locale)
    fake.seed_instance(int(name_key(seed, "faker", provider, locale)) & 0x7FFFFFFF)
    method = faker_method(fake, provider)
    seen: dict[str, None] = {}
    for _ in range(size * 3):
        value = str(method())
        seen[value.lower() if lower else value] = None
        if len(seen) >= size:
            break
    return tuple(seen)


def faker_method(fake: Faker, provider: str) -> Any:
    method = getattr(fake, provider, None) if not provider.startswith("_") else None
    if not callable(method):
        names = [n for n in dir(fake) if not n.startswith("_")]
        close = difflib.get_close_matches(provider, names, n=3)
        raise SpecError(
            f"Faker has no provider {provider!r}",
            hint=f"did you mean {', '.join(close)}?" if close else "see faker.readthedocs.io",
        )
    return method


# --------------------------------------------------------------------------- text encodings


def json_literal(values: pa.Array) -> pa.Array:
    """Each value as JSON text: strings quoted and escaped, numbers and booleans as is."""
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        text = values
        for raw, escaped in (
            ("\\", "\\\\"),
            ('"', '\\"'),
            ("\n", "\\n"),
            ("\r", "\\r"),
            ("\t", "\\t"),
        ):
            text = pc.replace_substring(text, raw, escaped)
        out = pc.binary_join_element_wise('"', text, '"', "")
    elif pa.types.is_boolean(values.type):
        out = pc.if_else(values, "true", "false")
    elif pa.types.is_timestamp(values.type) or pa.types.is_date(values.type):
        out = pc.binary_join_element_wise('"', pc.cast(values, pa.string()), '"', "")
    else:
        out = pc.cast(values, pa.string())
    return pc.fill_null(out, "null")


def pg_array_literal(items: pa.Array) -> pa.Array:
    """Items as quoted PostgreSQL array elements (``"a b"``, backslash and quote escaped)."""
    text = pc.cast(items, pa.string())
    text = pc.replace_substring(pc.replace_substring(text, "\\", "\\\\"), '"', '\\"')
    return pc.binary_join_element_wise('"', text, '"', "")
