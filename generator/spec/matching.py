"""References restricted to parents that match the row or a filter.

``{kind: ref, table: label, match: {projectID: projectID}}`` picks, for each row, a label
whose ``projectID`` equals the row's own ``projectID`` (zbugs' ``issueLabel``, whose two
composite FKs share ``projectID``).

The parent column is evaluated once over every parent row (a pure function of the parent's
index, like everything else) and grouped; a row then picks inside its group: uniformly, or with
``distinct`` in a ``per_parent`` table, the group rank ``r`` of the row takes candidate
``(offset + r) mod size`` with a keyed offset per driving parent, so the rows of one group get
distinct parents (a composite key of the two references stays unique). ``where: {tier:
gold}`` keeps only the parents with that value (the parent set filtered).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from generator.spec import strategies as st
from seedgen.errors import SpecError

I64 = NDArray[np.int64]


class Candidates:
    """Parent rows grouped by the value of the matched parent column(s)."""

    def __init__(self, values: pa.Array) -> None:
        encoded = (
            pc.dictionary_encode(values).combine_chunks()
            if isinstance(values, pa.ChunkedArray)
            else pc.dictionary_encode(values)
        )
        self.dictionary = encoded.dictionary
        group = np.asarray(encoded.indices.fill_null(-1), dtype=np.int64)
        self.order = np.argsort(group, kind="stable")
        sorted_group = group[self.order]
        groups = len(self.dictionary)
        self.start = np.searchsorted(sorted_group, np.arange(groups))
        self.size = np.searchsorted(sorted_group, np.arange(groups), side="right") - self.start

    def group_of(self, values: pa.Array) -> I64:
        found = pc.index_in(values, value_set=self.dictionary)
        return np.asarray(found.fill_null(-1), dtype=np.int64)


def key_of(values: list[pa.Array]) -> pa.Array:
    if len(values) == 1:
        return pc.cast(values[0], pa.string())
    return pc.binary_join_element_wise(*[pc.cast(v, pa.string()) for v in values], "\x1f")


def matched_rows(ctx: Any, s: st.Ref) -> Callable[[Any], I64]:
    parent_cols = [*s.match, *s.where]
    n = ctx.rows(s.table)
    cache: dict[str, Candidates] = {}

    def candidates(f: Any) -> Candidates:
        if "c" not in cache:
            frame = f.gen.frame(s.table, np.arange(n, dtype=np.int64))
            cache["c"] = Candidates(key_of([frame.get(c) for c in parent_cols]))
        return cache["c"]

    def run(f: Any) -> I64:
        cand = candidates(f)
        fixed = [pa.array([v] * len(f)) for v in s.where.values()]
        group = cand.group_of(key_of([*(f.get(c) for c in s.match.values()), *fixed]))
        size = np.where(group >= 0, cand.size[group.clip(0)], 0)
        if (size == 0).any():
            raise SpecError(
                f"{ctx.where}: {int((size == 0).sum()):,} rows have no {s.table} row with the "
                f"same {', '.join(s.match)} and {s.where or 'no filter'}",
                hint=f"give {s.table} more rows (or fewer distinct {', '.join(parent_cols)})",
            )
        pos = _positions(ctx, s, f, size)
        return np.asarray(cand.order[cand.start[group] + pos], dtype=np.int64)

    return run


def _positions(ctx: Any, s: st.Ref, f: Any, size: I64) -> I64:
    if not s.distinct:
        return np.asarray(np.floor(ctx.stream.uniform(f.idx) * size), dtype=np.int64)
    parent, rank = f.group
    if (rank >= size).any():
        raise SpecError(
            f"{ctx.where}: distinct refs need up to {int(rank.max()) + 1} matching "
            f"{s.table} rows per group, some groups have {int(size.min())}",
            hint="lower the per_parent count or give the parent table more rows",
        )
    offset = np.floor(ctx.stream.sub("offset").uniform(parent) * size).astype(np.int64)
    return np.asarray((offset + rank) % size, dtype=np.int64)
