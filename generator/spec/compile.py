"""Compile each strategy onto the engine's primitives: a function from a ``Frame`` to an array.

Which primitive each kind uses is the design note in ``docs/design.md`` (spec layer). Streams
are named ``(seed, table, column)``; nested strategies use ``stream.sub(field)`` and the null
mask of ``nullable`` uses ``stream.sub("null")``, so wrapping a column in ``nullable`` keeps its
other values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from generator import columns as col
from generator.rng import Stream, name_key, permute
from generator.spec import strategies as st
from generator.spec import values
from generator.spec.resolve import ResolvedTable, unwrap
from seedgen.errors import SpecError

Fn = Callable[[Any], pa.Array]  # Frame -> array


@dataclass(frozen=True)
class Context:
    gen: Any  # runtime.Generator
    table: ResolvedTable
    column: str
    stream: Stream

    @property
    def where(self) -> str:
        return f"table {self.table.name}, column {self.column}"

    @property
    def params(self) -> dict[str, Any]:
        """The spec's dataset-wide ``params`` (what named strategies read)."""
        return dict(self.gen.params)

    def rows(self, table: str | None = None) -> int:
        return int(self.gen.rows[table or self.table.name])

    def sub(self, name: str) -> Context:
        return Context(self.gen, self.table, f"{self.column}.{name}", self.stream.sub(name))


def compile_strategy(ctx: Context, strat: st.Strategy) -> Fn:
    from generator.spec.compile_text import COMPILERS

    return COMPILERS[type(strat)](ctx, strat)


# --------------------------------------------------------------------------- keys, references


def _sequence(ctx: Context, s: st.Sequence) -> Fn:
    first = s.start + ctx.gen.key_offset
    return lambda f: pa.array(f.idx + first, pa.int64())


def _uuid(ctx: Context, s: st.Uuid) -> Fn:
    key = name_key(ctx.gen.seed, ctx.table.name, ctx.column, "uuid")
    make = col.uuid4_strings if s.version == 4 else values.uuid7_strings
    return lambda f: make(key, f.idx)


def _nanoid(ctx: Context, s: st.Nanoid) -> Fn:
    key = name_key(ctx.gen.seed, ctx.table.name, ctx.column, "nanoid")
    if not s.prefix:
        return lambda f: values.nanoid_strings(key, f.idx, s.length)
    return lambda f: col.concat(s.prefix, values.nanoid_strings(key, f.idx, s.length))


def parent_rows(ctx: Context, s: st.Ref) -> Callable[[Any], np.ndarray]:
    """Which parent row each row points at: the driving parent, a one-to-one permutation, a
    uniform or a power-law pick (over a keyed permutation, so the popular parents are spread)."""
    pp = ctx.table.spec.per_parent
    n = ctx.rows(s.table)
    if pp is not None and pp.table == s.table and not (s.match or s.where or s.grid):
        return lambda f: f.group[0]
    if s.grid is not None:
        return _grid_rows(ctx, s.grid)
    if s.match or s.where:
        from generator.spec.matching import matched_rows

        return matched_rows(ctx, s)
    if s.unique:
        return lambda f: permute(f.idx, n, ctx.stream.sub("parent").key)
    if s.table == ctx.table.name:  # a forest: an earlier row, or itself for a root
        from generator.spec.forest import parent_rows as forest_rows

        return forest_rows(ctx, s)
    if s.distribution == "uniform":
        return lambda f: ctx.stream.integers(f.idx, 0, n - 1)
    spread = ctx.stream.sub("spread").key
    return lambda f: permute(
        np.floor(ctx.stream.uniform(f.idx) ** s.exponent * n).astype(np.int64), n, spread
    )


def grid_members(table: ResolvedTable, grid: str) -> list[tuple[str, str]]:
    """(column, parent table) of the refs of ``grid``, in column order."""
    out = []
    for name, strat in table.spec.columns.items():
        inner = unwrap(strat)
        if isinstance(inner, st.Ref) and inner.grid == grid:
            out.append((name, inner.table))
    return out


def _grid_rows(ctx: Context, grid: str) -> Callable[[Any], np.ndarray]:
    members = grid_members(ctx.table, grid)
    sizes = [ctx.rows(parent) for _, parent in members]
    combos = int(np.prod(sizes, dtype=object))
    _need(ctx, ctx.rows(), combos, f"combinations of grid {grid!r} ({' x '.join(map(str, sizes))})")
    if combos >= 2**62:
        raise SpecError(
            f"{ctx.where}: grid {grid!r} has over 2**62 combinations", hint="use fewer refs"
        )
    position = [n for n, _ in members].index(ctx.column)
    below = int(np.prod(sizes[position + 1 :], dtype=object))
    key = name_key(ctx.gen.seed, ctx.table.name, "#grid", grid)
    size = sizes[position]
    return lambda f: (permute(f.idx, combos, key) // below) % size


def _ref(ctx: Context, s: st.Ref) -> Fn:
    from generator.spec.resolve import parent_key

    key = parent_key(ctx.gen.tables, s, ctx.where)
    if ctx.rows(s.table) == 0 and ctx.rows() > 0:
        return _no_parents(ctx, s, key)
    rows = parent_rows(ctx, s)
    info = ctx.table.info.columns.get(ctx.column)
    null_roots = s.table == ctx.table.name and (info is None or info.nullable)

    def run(f: Any) -> pa.Array:
        f.rows[ctx.column] = r = rows(f)
        keys = f.gen.frame(s.table, r).get(key)
        if not null_roots:
            return keys
        return pc.if_else(pa.array(r == f.idx), pa.nulls(len(f), keys.type), keys)

    return run


def _no_parents(ctx: Context, s: st.Ref, key: str) -> Fn:
    """A parent table with no rows: NULL, where the column may be NULL."""
    info = ctx.table.info.columns.get(ctx.column)
    if info is None or not info.nullable:
        raise SpecError(
            f"{ctx.where}: references {s.table}, which has no rows",
            hint=f"give {s.table} rows, or make {ctx.column} nullable",
        )

    def run(f: Any) -> pa.Array:  # the parent's type, probed when run (a cycle compiles it later)
        probe = f.gen.frame(s.table, np.zeros(1, dtype=np.int64)).get(key)
        f.rows[ctx.column] = np.zeros(len(f), dtype=np.int64)
        return pa.nulls(len(f), probe.type)

    return run


def _copy(ctx: Context, s: st.CopyFromParent) -> Fn:
    ref = unwrap(ctx.table.spec.columns[s.ref])
    assert isinstance(ref, st.Ref)

    def run(f: Any) -> pa.Array:
        keys = f.get(s.ref)  # fills f.rows[s.ref]
        copied = f.gen.frame(ref.table, f.rows[s.ref]).get(s.column)
        return pc.if_else(pc.is_null(keys), pa.nulls(len(f), copied.type), copied)

    return run


# --------------------------------------------------------------------------- values


def _choice(ctx: Context, s: st.Choice | st.Const) -> Fn:
    pool = pa.array(s.values if isinstance(s, st.Choice) else [s.value])
    weights = s.weights if isinstance(s, st.Choice) and s.weights else [1.0] * len(pool)
    if s.unique:
        n = ctx.rows()
        _need(ctx, n, len(pool), "values")
        return lambda f: pc.take(pool, pa.array(permute(f.idx, n, ctx.stream.key)))
    return lambda f: pc.take(pool, pa.array(ctx.stream.choice(f.idx, weights)))


def _quota(ctx: Context, s: st.Quota) -> Fn:
    pool = pa.array(s.values)
    n = ctx.rows()
    counts = col.quota_counts(n, s.weights)
    return lambda f: pc.take(
        pool, pa.array(col.quota(ctx.stream, f.idx, n, counts).clip(0, len(pool) - 1))
    )


def _need(ctx: Context, rows: int, have: int, what: str) -> None:
    if rows > have:
        raise SpecError(
            f"{ctx.where}: unique needs {rows:,} distinct values but the strategy has {have:,} "
            f"{what}",
            hint=f"add {rows - have:,} more {what}, lower the rows, or drop unique",
        )


def _range(ctx: Context, s: st.Range) -> Fn:
    integer = s.integer if s.integer is not None else _int_column(ctx)
    lo, hi = s.min, s.max
    if integer and s.unique:
        span = int(np.floor(hi) - np.ceil(lo)) + 1
        _need(ctx, ctx.rows(), span, "integers in [min, max]")
        return lambda f: pa.array(int(np.ceil(lo)) + permute(f.idx, span, ctx.stream.key))
    if integer:
        return lambda f: pa.array(ctx.stream.integers(f.idx, int(np.ceil(lo)), int(np.floor(hi))))
    return _shaped(s, lambda f: lo + ctx.stream.uniform(f.idx) * (hi - lo))


def _int_column(ctx: Context) -> bool:
    info = ctx.table.info.columns.get(ctx.column)
    return info is not None and info.type.family == "int"


def _shaped(s: Any, draw: Callable[[Any], np.ndarray]) -> Fn:
    def run(f: Any) -> pa.Array:
        x = draw(f)
        if s.min is not None or s.max is not None:
            x = np.clip(x, s.min, s.max)
        return pa.array(np.round(x, s.scale) if s.scale is not None else x)

    return run


def _normal(ctx: Context, s: st.Normal) -> Fn:
    return _shaped(s, lambda f: values.normal(ctx.stream, f.idx, s.mean, s.sd))


def _lognormal(ctx: Context, s: st.Lognormal) -> Fn:
    return _shaped(s, lambda f: np.exp(values.normal(ctx.stream, f.idx, np.log(s.median), s.sigma)))


def _exponential(ctx: Context, s: st.Exponential) -> Fn:
    return _shaped(s, lambda f: values.exponential(ctx.stream, f.idx, s.mean))


def _pareto(ctx: Context, s: st.Pareto) -> Fn:
    return _shaped(s, lambda f: values.pareto(ctx.stream, f.idx, s.alpha, s.low))


def _bool(ctx: Context, s: st.Bool) -> Fn:
    return lambda f: pa.array(ctx.stream.bernoulli(f.idx, s.share))


def _epoch(value: datetime | date, zone: str) -> int:
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    return int(value.astimezone(UTC).timestamp())


def _timestamp(ctx: Context, s: st.Timestamp) -> Fn:
    lo, hi = _epoch(s.start, s.timezone), _epoch(s.end, s.timezone)
    if hi < lo:
        raise SpecError(f"{ctx.where}: timestamp end is before start", hint="swap start and end")
    if s.step_seconds is not None:
        step = s.step_seconds
        _need(ctx, ctx.rows(), (hi - lo) // step + 1, f"steps of {step}s in [start, end]")
        return lambda f: col.seconds_to_timestamp(lo + f.idx * step)
    if s.unit == "timestamp":
        return lambda f: col.seconds_to_timestamp(ctx.stream.integers(f.idx, lo, hi))
    scale = 1000 if s.unit == "ms" else 1
    return lambda f: pa.array(ctx.stream.integers(f.idx, lo * scale, hi * scale + scale - 1))
