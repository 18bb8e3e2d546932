"""Counter-based randomness: every value is a pure function of (seed, table, column, row index).

There is no RNG state to advance, so a row's values do not depend on which shard or worker made
it, or in which order. ``Stream(seed, table, column)`` hashes its names (by name, never by list
position) into a 64-bit key; ``bits(idx, draw)`` mixes key, row index and draw number with the
SplitMix64 finaliser, vectorised over numpy ``uint64`` arrays (wrapping arithmetic is intended).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

U64 = NDArray[np.uint64]
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_DRAW = np.uint64(0xD1B54A32D192ED03)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def mix64(x: U64) -> U64:
    """SplitMix64 finaliser: a bijection on 64-bit integers with full avalanche."""
    x = x ^ (x >> _S30)
    x = x * _M1
    x = x ^ (x >> _S27)
    x = x * _M2
    return x ^ (x >> _S31)


def name_key(seed: int, *names: str) -> np.uint64:
    """A 64-bit key for a named stream; stable across Python versions and platforms."""
    text = "\x1f".join([str(seed), *names]).encode()
    return np.uint64(int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little"))


def as_index(idx: ArrayLike) -> U64:
    return np.asarray(idx, dtype=np.int64).astype(np.uint64)


@dataclass(frozen=True)
class Stream:
    """The random stream of one (seed, table, column); draws are addressed, not consumed."""

    key: np.uint64

    @classmethod
    def of(cls, seed: int, table: str, column: str) -> Stream:
        return cls(name_key(seed, table, column))

    def sub(self, name: str) -> Stream:
        """A derived, independent stream (e.g. one per sampling step of a column)."""
        return Stream(name_key(int(self.key), name))

    def bits(self, idx: ArrayLike, draw: int | ArrayLike = 0) -> U64:
        i = as_index(idx)
        d = np.asarray(draw, dtype=np.int64).astype(np.uint64)
        with np.errstate(over="ignore"):
            return mix64(mix64(i * _GOLDEN + d * _DRAW) ^ self.key)

    def uniform(self, idx: ArrayLike, draw: int | ArrayLike = 0) -> NDArray[np.float64]:
        """Floats in [0, 1) with 53 random bits."""
        return (self.bits(idx, draw) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))

    def grid(self, idx: ArrayLike, columns: int) -> NDArray[np.float32]:
        """Floats in (0, 1] with 24 random bits for every (row, column) pair, shape
        ``(len(idx), columns)``: a rank matrix. Row and column are each mixed once and the pair
        once more, half the work of ``uniform(idx[:, None], column[None, :])``."""
        with np.errstate(over="ignore"):
            row = mix64(as_index(idx) * _GOLDEN ^ self.key)
            col = mix64((np.arange(columns, dtype=np.uint64) + np.uint64(1)) * _DRAW)
            cell = mix64(row[:, None] ^ col[None, :]) >> np.uint64(40)
        return (cell.astype(np.float32) + np.float32(1.0)) * np.float32(1.0 / (1 << 24))

    def integers(
        self, idx: ArrayLike, low: int, high: int, draw: int | ArrayLike = 0
    ) -> NDArray[np.int64]:
        """Integers uniform in the closed range [low, high]."""
        span = high - low + 1
        return low + np.floor(self.uniform(idx, draw) * span).astype(np.int64)

    def bernoulli(self, idx: ArrayLike, p: float, draw: int = 0) -> NDArray[np.bool_]:
        return self.uniform(idx, draw) < p

    def choice(self, idx: ArrayLike, weights: ArrayLike, draw: int = 0) -> NDArray[np.int64]:
        """Index into ``weights`` (any non-negative numbers), drawn by inverse CDF."""
        w = np.asarray(weights, dtype=np.float64)
        cdf = np.cumsum(w) / w.sum()
        return np.searchsorted(cdf, self.uniform(idx, draw), side="right").clip(0, len(w) - 1)


# --------------------------------------------------------------------------- bijections


def permute(idx: ArrayLike, n: int, key: np.uint64, rounds: int = 4) -> NDArray[np.int64]:
    """A keyed pseudo-random permutation of ``[0, n)`` evaluated at ``idx`` (Feistel network).

    A balanced Feistel network on the smallest even bit width covering ``n`` is a bijection on
    ``[0, 2**bits)``; cycle-walking (re-applying it to values that land outside ``[0, n)``)
    restricts it to a bijection on ``[0, n)``. Used for unique values and for exact quotas
    (sampling without replacement) with no retry on collision: there are none.
    """
    if n <= 0:
        raise ValueError("permute needs n >= 1")
    x = as_index(idx)
    if n == 1:
        return np.zeros(x.shape, dtype=np.int64)
    bits = max(2, int(n - 1).bit_length())
    bits += bits % 2
    half = np.uint64(bits // 2)
    mask = np.uint64((1 << (bits // 2)) - 1)
    with np.errstate(over="ignore"):  # a key near 2**64 wraps, as intended
        round_keys = [
            mix64(np.asarray([key + np.uint64(r + 1)], dtype=np.uint64))[0] for r in range(rounds)
        ]

    def once(v: U64) -> U64:
        left, right = v >> half, v & mask
        with np.errstate(over="ignore"):
            for rk in round_keys:
                left, right = right, left ^ (mix64(right ^ rk) & mask)
        return (left << half) | right

    y = once(x)
    limit = np.uint64(n)
    out_of_range = y >= limit
    while out_of_range.any():
        y[out_of_range] = once(y[out_of_range])
        out_of_range = y >= limit
    return y.astype(np.int64)
