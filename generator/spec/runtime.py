"""Evaluate a resolved spec: rows ``[start, stop)`` of a table as Arrow arrays.

A ``Frame`` is one table at a set of row indexes; ``frame.get(column)`` computes a column there
(memoised), pulling the other columns it reads from the same frame and parent columns from a
frame of the parent table at the parent rows. Nothing is ever read from shards: a child's FK, a
copied parent column or a list of parent keys is the parent's own strategy re-evaluated at the
parent's row index. Tables with ``per_parent`` rows are laid out parent by parent; ``Groups``
maps a row to its parent and rank from per-block prefix sums of the counts (a pure function of
the parent index), so any row range is located without scanning the parents before it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from generator.rng import Stream
from generator.spec import values
from generator.spec.registry import BuiltTable
from generator.spec.resolve import ResolvedTable
from generator.spec.types import PgType, int_limit, text_limit
from seedgen.errors import SpecError

I64 = NDArray[np.int64]
Fn = Callable[["Frame"], pa.Array]
BLOCK = 1 << 16


class Groups:
    """Rows of a ``per_parent`` table: parent p owns rows [start(p), start(p) + count(p))."""

    def __init__(self, counter: Callable[[I64], I64], parents: int) -> None:
        self.counter, self.parents = counter, parents
        totals = [int(self._counts(b).sum()) for b in range(0, parents, BLOCK)]
        self.block_start = np.concatenate([[0], np.cumsum(totals, dtype=np.int64)])
        self.rows = int(self.block_start[-1])

    def _counts(self, first: int) -> I64:
        return self.counter(np.arange(first, min(first + BLOCK, self.parents), dtype=np.int64))

    def locate(self, idx: I64) -> tuple[I64, I64]:
        """(parent row, rank within the parent's group) of each row."""
        parent = np.empty(len(idx), dtype=np.int64)
        rank = np.empty(len(idx), dtype=np.int64)
        block = np.searchsorted(self.block_start, idx, side="right") - 1
        for b in np.unique(block):
            sel = block == b
            starts = self.block_start[b] + np.concatenate(
                [[0], np.cumsum(self._counts(int(b) * BLOCK))]
            )
            local = np.searchsorted(starts, idx[sel], side="right") - 1
            parent[sel] = int(b) * BLOCK + local
            rank[sel] = idx[sel] - starts[local]
        return parent, rank


class Generator:
    """All tables of a resolved spec, compiled for one seed and key offset."""

    def __init__(
        self,
        tables: list[ResolvedTable],
        seed: int,
        key_offset: int = 0,
        params: dict[str, Any] | None = None,
        modules: tuple[str, ...] = (),
    ) -> None:
        from generator.spec.compile import Context, compile_strategy

        for module in modules:  # their registrations of named strategies run on import
            importlib.import_module(module)
        self.tables = {t.name: t for t in tables}
        self.seed, self.key_offset = seed, key_offset
        self.params: dict[str, Any] = dict(params or {})
        self.groups: dict[str, Groups] = {}
        self.rows: dict[str, int] = {}
        self.fns: dict[str, dict[str, Fn]] = {}
        self.builders: dict[str, Callable[[I64], dict[str, pa.Array]]] = {}
        self.built: dict[str, BuiltTable] = {}  # builders' own plan fields (rows, key ranges)
        self.extras: dict[str, Any] = {}  # named code's per-generator state (freed with it)
        self.samplers: dict[tuple[str, str], Any] = {}  # list columns, for exploded tables
        for t in tables:  # fixed sizes first: named code or an FK cycle may read any size
            if t.spec.per_parent is None:
                self.rows[t.name] = int(t.spec.rows or 0)
        for t in tables:  # dependency order: parents are sized and compiled first
            pp = t.spec.per_parent
            if t.spec.builder is not None:
                continue
            if pp is not None:
                self.groups[t.name] = Groups(self._counter(t), self.rows[pp.table])
                self.rows[t.name] = self.groups[t.name].rows
            self.fns[t.name] = {
                col: compile_strategy(Context(self, t, col, Stream.of(seed, t.name, col)), strat)
                for col, strat in t.spec.columns.items()
            }
        for t in tables:  # after every table is sized: a builder may aggregate any of them
            if t.spec.builder is not None:
                made = self._builder(t)
                if isinstance(made, BuiltTable):
                    self.built[t.name] = made
                    self.builders[t.name] = made.build
                    if made.rows is not None:
                        self.rows[t.name] = made.rows
                else:
                    self.builders[t.name] = made
                if t.spec.rows is None and (not isinstance(made, BuiltTable) or made.rows is None):
                    raise SpecError(
                        f"table {t.name}: no row count (its builder {t.spec.builder.name} "
                        "computes none)",
                        hint="add rows: N (the builder's driving rows)",
                    )

    def _counter(self, table: ResolvedTable) -> Callable[[I64], I64]:
        """Children of each parent row: a count distribution (capped by the candidates of a
        distinct matched ref), or the length of the parent's list column (exploded)."""
        pp = table.spec.per_parent
        assert pp is not None
        count = pp.count
        if count.kind == "list":
            sampler = self.samplers[(pp.table, str(count.column))]
            return lambda idx: np.diff(sampler.sample(idx, len(sampler.pool(self)))[0]).astype(
                np.int64
            )
        stream, cap = Stream.of(self.seed, table.name, "#per_parent"), group_cap(self, table)
        if cap is None:
            return lambda idx: values.counts(stream, idx, count)
        return lambda idx: np.minimum(values.counts(stream, idx, count), cap(idx))

    def frame(self, table: str, idx: I64) -> Frame:
        return Frame(self, self.tables[table], idx)

    def build(self, table: str, start: int, stop: int) -> dict[str, pa.Array]:
        idx = np.arange(start, stop, dtype=np.int64)
        resolved = self.tables[table]
        if resolved.spec.builder is not None:
            built = self.builders[table](idx)
            return {col: built[col] for col in resolved.produced}
        frame = self.frame(table, idx)
        return {col: frame.get(col) for col in resolved.produced}

    def _builder(self, table: ResolvedTable) -> Any:
        from generator.spec.compile import Context
        from generator.spec.registry import lookup_table

        spec = table.spec.builder
        assert spec is not None
        ctx = Context(self, table, "*", Stream.of(self.seed, table.name, "*"))
        return lookup_table(spec.name, f"table {table.name}")(dict(spec.params), ctx)


class Frame:
    def __init__(self, gen: Generator, table: ResolvedTable, idx: I64) -> None:
        self.gen, self.table, self.idx = gen, table, idx
        self._cache: dict[str, pa.Array] = {}
        self.rows: dict[str, I64] = {}  # parent rows of each ref column, filled by refs

    def __len__(self) -> int:
        return len(self.idx)

    def get(self, column: str) -> pa.Array:
        if column not in self._cache:
            value = self.gen.fns[self.table.name][column](self)
            info = self.table.info.columns.get(column)
            self._cache[column] = value if info is None else coerce(value, info.type)
        return self._cache[column]

    @cached_property
    def group(self) -> tuple[I64, I64]:
        return self.gen.groups[self.table.name].locate(self.idx)


def group_cap(gen: Generator, table: ResolvedTable) -> Callable[[I64], I64] | None:
    """For a ``distinct`` matched ref, the number of candidates a group's rows can take: the
    group's count is capped by it (a project with two labels gives its issues at most two)."""
    from generator.spec.matching import Candidates, key_of

    pp, found = table.spec.per_parent, _distinct_matched(table)
    if pp is None or found is None:
        return None
    target, wanted, via = found
    cache: dict[str, Candidates] = {}

    def cap(idx: I64) -> I64:
        if "c" not in cache:
            everyone = np.arange(gen.rows[target], dtype=np.int64)
            cache["c"] = Candidates(key_of([gen.frame(target, everyone).get(c) for c in wanted]))
        group = cache["c"].group_of(key_of([gen.frame(pp.table, idx).get(c) for c in via]))
        return np.where(group >= 0, cache["c"].size[group.clip(0)], 0)

    return cap


def _distinct_matched(table: ResolvedTable) -> tuple[str, list[str], list[str]] | None:
    """(parent table, its matched columns, the driving parent's columns the row copies)."""
    from generator.spec import strategies as st
    from generator.spec.resolve import unwrap

    cols = table.spec.columns
    for strat in map(unwrap, cols.values()):
        if isinstance(strat, st.Ref) and strat.distinct and strat.match:
            copies = [unwrap(cols[c]) for c in strat.match.values()]
            via = [c.column for c in copies if isinstance(c, st.CopyFromParent)]
            return (strat.table, list(strat.match), via) if len(via) == len(copies) else None
    return None


def coerce(value: pa.Array, pg: PgType) -> pa.Array:
    """Values of a strategy in the shape the column takes: integers rounded, decimals at the
    column's scale, text cut to varchar(n), timestamps to dates and back."""
    fam = pg.family
    typ = value.type
    if fam == "int" and pa.types.is_floating(typ):
        return pc.cast(pc.round(value), pa.int64())
    if fam == "decimal" and pa.types.is_floating(typ) and pg.scale is not None:
        return pc.round(value, pg.scale)
    if fam == "date" and pa.types.is_timestamp(typ):
        return pc.cast(value, pa.date32(), safe=False)
    if fam == "timestamp" and pa.types.is_date(typ):
        return pc.cast(value, pa.timestamp("us"))
    limit = text_limit(pg)
    if fam in ("text", "json", "uuid", "array", "other") and not pa.types.is_string(typ):
        value = pc.cast(value, pa.string())
    if limit is not None:
        value = pc.utf8_slice_codeunits(value, 0, limit)
    return value


def integer_bound(pg: PgType) -> int | None:
    return int_limit(pg)
