"""Self-references as forests: each row's parent is an earlier row of the same table, computed
from the row index alone (no lookups, no retries), so the parent's key is known when the row is.

A root is a row whose parent is itself here; ``compile._ref`` writes NULL for it where the
column may be NULL. Without ``max_depth`` the first rows (one, or the ``roots`` share) are roots
and every other row picks a uniform earlier row. With ``max_depth`` the rows are laid out in
levels by index: level 0 the roots, level k + 1 ``branching`` times larger than level k, the
last level the rest; a row of level k picks a uniform row of level k - 1, so depth is bounded.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from generator.spec import strategies as st

I64 = NDArray[np.int64]


def parent_rows(ctx: Any, s: st.Ref) -> Callable[[Any], I64]:
    n, forest, stream = ctx.rows(), s.forest, ctx.stream
    if forest is None or forest.max_depth is None:
        roots = 1 if forest is None or forest.roots is None else _share(forest.roots, n)
        return lambda f: np.where(
            f.idx < roots, f.idx, np.floor(stream.uniform(f.idx) * f.idx).astype(np.int64)
        )
    starts = level_starts(n, forest)

    def run(f: Any) -> I64:
        level = np.searchsorted(starts, f.idx, side="right") - 1
        low = starts[np.maximum(level - 1, 0)]
        pick = low + np.floor(stream.uniform(f.idx) * (starts[level] - low)).astype(np.int64)
        return np.asarray(np.where(level == 0, f.idx, pick), dtype=np.int64)

    return run


def level_starts(n: int, forest: st.Forest) -> I64:
    """First row of each level 0..max_depth, then ``n``."""
    depth, b = int(forest.max_depth or 0), forest.branching
    if forest.roots is not None:
        roots = _share(forest.roots, n)
    else:  # just enough roots that the levels hold every row
        roots = math.ceil(n / sum(b**k for k in range(depth + 1))) if n else 1
    sizes = [min(n, max(1, round(roots * b**k))) for k in range(depth)]
    return np.minimum(np.cumsum([0, *sizes, n], dtype=np.int64), n)


def _share(share: float, n: int) -> int:
    return max(1, min(n, math.ceil(share * n)))
