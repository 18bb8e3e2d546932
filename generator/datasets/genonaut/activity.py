"""Per-user activity lists: how many rows each user has, which distinct items they touch, and
the ids those rows get, all pure functions of the user's row index.

A user's row count is exponential around the configured mean (a few heavy users, many light
ones: the shape real activity logs have), capped. Row ``j`` of user ``u`` has the *activity key*
``offsets[u] + j``: dense, unique over the table, a pure function of ``(u, j)``, and the draw
index of every random value of that row (so a row does not depend on the shard that made it).
Distinct items per user come from a keyed permutation of a window of ``[0, n)`` starting at a
per-user offset: ``permute((start_u + j) mod n)`` is one-to-one in ``j`` for ``j < n``, so a user
never meets an item twice (no retry, no collision check).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from generator.rng import permute

if TYPE_CHECKING:
    from generator.datasets.genonaut.layout import Layout as GenonautDataset

Explosion = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]


def counts(ds: GenonautDataset, table: str, mean: float, cap: int) -> NDArray[np.int64]:
    """Rows per user (every user row), exponential with ``mean``, at most ``cap``."""
    users = np.arange(ds.n["users"], dtype=np.int64)
    u = ds.stream(table, "rows_per_user").uniform(users)
    k = np.floor(-mean * np.log1p(-u)).astype(np.int64)
    return np.minimum(k, max(cap, 0))


def explode(per_user: NDArray[np.int64], users: NDArray[np.int64]) -> Explosion:
    """For driving rows ``users``: (user row, position j, activity key) of every output row."""
    offsets = np.concatenate([[0], np.cumsum(per_user)])
    k = per_user[users]
    user = np.repeat(users, k)
    start = np.repeat(offsets[users], k)
    j = np.arange(len(user), dtype=np.int64) - np.repeat(np.cumsum(k) - k, k)
    return user, j, start + j


def distinct(
    ds: GenonautDataset, table: str, user: NDArray[np.int64], j: NDArray[np.int64], n: int
) -> NDArray[np.int64]:
    """Row ``j`` of user ``user`` gets item ``[0, n)``, distinct over ``j < n`` per user."""
    if n == 0:
        return np.zeros(len(user), dtype=np.int64)
    start = ds.stream(table, "item_window").integers(user, 0, n - 1)
    return permute((start + j) % n, n, ds.stream(table, "item_permutation").key)


class _WithoutPrompts:
    """The dataset with empty prompts: for rebuilding jobs where none of their text is needed
    (events, notifications); prompts are most of the cost of a job row."""

    def __init__(self, ds: GenonautDataset) -> None:
        self._ds = ds

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ds, name)

    def prompts(self, table: str, idx: NDArray[np.int64]) -> pa.StringArray:
        return pa.array([""] * len(idx), pa.string())


def without_prompts(ds: GenonautDataset) -> GenonautDataset:
    return cast("GenonautDataset", _WithoutPrompts(ds))


def take(arrays: dict[str, pa.Array], keep: NDArray[np.bool_]) -> dict[str, pa.Array]:
    mask = pa.array(keep)
    return {k: v.filter(mask) for k, v in arrays.items()}


def total(per_user: NDArray[np.int64]) -> int:
    return int(per_user.sum())
