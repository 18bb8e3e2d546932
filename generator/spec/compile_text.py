"""Compilers of the text-shaped and composite kinds (Faker pools, templates, lists, JSON,
expressions, nullable, custom), the dispatch table, and each kind's value family (type fit)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jinja2
import jinja2.meta
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from generator import columns as col
from generator.rng import permute
from generator.spec import compile as core
from generator.spec import compile_order as order
from generator.spec import expr, registry, values
from generator.spec import strategies as st
from generator.spec.compile import Context, Fn
from generator.spec.resolve import ResolvedTable, parent_key, unwrap
from generator.text import TemplateSet
from seedgen.errors import SpecError

_SUFFIXED = re.compile(r"(_\d+$)|(\+\d+@)")


def _faker(ctx: Context, s: st.Faker) -> Fn:
    pool = list(values.faker_values(ctx.gen.seed, s.provider, s.locale, s.pool, s.lower))
    if s.min_length or s.max_length:  # a CHECK on the length: pad and cut the pool, once
        cut = [v.ljust(s.min_length, "x")[: s.max_length] for v in pool]
        pool = list(dict.fromkeys(cut))  # padding may make two values equal: keep the first
    if not s.unique:
        arr = pa.array(pool, pa.string())
        return lambda f: pc.take(arr, pa.array(ctx.stream.integers(f.idx, 0, len(pool) - 1)))
    pool = [v for v in pool if not _SUFFIXED.search(v)]  # so a suffixed repeat meets no original
    emails = all("@" in v for v in pool)
    arr, n = pa.array(pool, pa.string()), ctx.rows()
    _unique_fits(ctx, max(map(len, pool)) + len(str(n // len(pool))) + 1)

    def run(f: Any) -> pa.Array:
        rank = permute(f.idx, n, ctx.stream.key)
        base, repeat = pc.take(arr, pa.array(rank % len(pool))), rank // len(pool)
        tag = pc.if_else(pa.array(repeat > 0), pc.cast(pa.array(repeat), pa.string()), "")
        if not emails:
            return col.concat(base, pc.if_else(pa.array(repeat > 0), "_", ""), tag)
        parts = pc.split_pattern(base, "@", max_splits=1)
        local, domain = pc.list_element(parts, 0), pc.list_element(parts, 1)
        plus = pc.if_else(pa.array(repeat > 0), "+", "")
        return col.concat(local, plus, tag, "@", domain)

    return run


def _unique_fits(ctx: Context, longest: int) -> None:
    info = ctx.table.info.columns.get(ctx.column)
    limit = info.type.length if info is not None and info.type.family == "text" else None
    if limit is not None and longest > limit:
        raise SpecError(
            f"{ctx.where}: unique values up to {longest} characters do not fit "
            f"{info.type.spelling}",  # type: ignore[union-attr]
            hint="use a shorter provider or a smaller pool, or widen the column",
        )


def template_slots(s: st.Template, where: str) -> list[str]:
    env = jinja2.Environment(autoescape=False)
    try:
        found = set().union(
            *(jinja2.meta.find_undeclared_variables(env.parse(t)) for t in s.templates)
        )
    except jinja2.TemplateSyntaxError as exc:
        raise SpecError(f"{where}: template does not parse: {exc.message}") from exc
    return sorted(found)


def _template(ctx: Context, s: st.Template) -> Fn:
    slots = template_slots(s, ctx.where)
    templates = TemplateSet(s.templates, slots)

    def run(f: Any) -> pa.Array:
        which = ctx.stream.integers(f.idx, 0, len(templates) - 1)
        slot_values = {n: pc.fill_null(pc.cast(f.get(n), pa.string()), "") for n in slots}
        return templates.render(which, slot_values)

    return run


def _list(ctx: Context, s: st.ListOf) -> Fn:
    sampler = ListSampler(ctx, s)
    ctx.gen.samplers[(ctx.table.name, ctx.column)] = sampler

    def run(f: Any) -> pa.Array:
        pool = sampler.pool(f.gen)
        offsets, picks = sampler.sample(f.idx, len(pool))
        if s.format == "json":
            return col.json_arrays(offsets, picks, values.json_literal(pool))
        body = col.join_lists(offsets, picks, values.pg_array_literal(pool), ",")
        return col.concat("{", body, "}")

    return run


class ListSampler:
    """The items of a ``list`` column at any rows: what the column renders, what an exploded
    child table counts (``count: {kind: list}``) and what its ``element`` column reads."""

    def __init__(self, ctx: Context, s: st.ListOf) -> None:
        self.stream, self.spec = ctx.stream, s
        self.key: str | None = None
        if s.table is not None:
            ref = st.Ref(kind="ref", table=s.table, column=s.column)
            self.key = parent_key(ctx.gen.tables, ref, ctx.where)
            if ctx.rows(s.table) > 100_000:
                raise SpecError(
                    f"{ctx.where}: list from {s.table} ({ctx.rows(s.table):,} rows) needs "
                    "<= 100,000 rows"
                )
        self._pool: pa.Array | None = None if s.table else pa.array(s.values)

    def pool(self, gen: Any) -> pa.Array:
        if self._pool is None:
            rows = np.arange(gen.rows[self.spec.table], dtype=np.int64)
            self._pool = gen.frame(self.spec.table, rows).get(self.key)
        return self._pool

    def sample(self, idx: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        s = self.spec
        return col.sample_lists(self.stream, idx, size, s.min_items, min(s.max_items, size))


def _element(ctx: Context, s: st.Element) -> Fn:
    pp = ctx.table.spec.per_parent
    assert pp is not None  # resolve checked it
    sampler: ListSampler = ctx.gen.samplers[(pp.table, s.of)]

    def run(f: Any) -> pa.Array:
        parent, rank = f.group
        pool = sampler.pool(f.gen)
        offsets, picks = sampler.sample(parent, len(pool))
        return pc.take(pool, pa.array(picks[offsets[:-1] + rank]))

    return run


def _json(ctx: Context, s: st.Json) -> Fn:
    fields = {name: core.compile_strategy(ctx.sub(name), strat) for name, strat in s.fields.items()}
    raw = {n for n, strat in s.fields.items() if unwrap(strat).kind in ("json", "list")}

    def run(f: Any) -> pa.Array:
        parts: list[pa.Array | str] = ["{"]
        for i, (name, fn) in enumerate(fields.items()):
            value = fn(f)
            text = pc.fill_null(value, "null") if name in raw else values.json_literal(value)
            parts += [
                (", " if i else "") + values.json_literal(pa.array([name]))[0].as_py() + ": ",
                text,
            ]
        return col.concat(*parts, "}") if fields else pa.array(["{}"] * len(f))

    return run


def _expr(ctx: Context, s: st.Expr) -> Fn:
    tree = expr.parse(s.expr, ctx.where)
    names = expr.names(tree)
    return lambda f: expr.evaluate(tree, {n: f.get(n) for n in names}, len(f))


def _nullable(ctx: Context, s: st.Nullable) -> Fn:
    inner = core.compile_strategy(ctx, s.of)
    mask_stream = ctx.stream.sub("null")

    def run(f: Any) -> pa.Array:
        value = inner(f)
        mask = pa.array(mask_stream.bernoulli(f.idx, s.share))
        return pc.if_else(mask, pa.nulls(len(f), value.type), value)

    return run


def _const(ctx: Context, s: st.Const) -> Fn:
    if s.unique and ctx.rows() > 1:
        core._need(ctx, ctx.rows(), 1, "values")
    return lambda f: pa.array([s.value] * len(f))


def _default(ctx: Context, s: st.Default) -> Fn:
    def run(f: Any) -> pa.Array:
        raise SpecError(f"{ctx.where}: kind default is filled by the database; nothing can read it")

    return run


def _custom(ctx: Context, s: st.Custom) -> Fn:
    return registry.lookup(s.name, ctx.where)(dict(s.params), ctx)


COMPILERS: dict[type, Callable[[Context, Any], Fn]] = {
    st.Sequence: core._sequence,
    st.Uuid: core._uuid,
    st.Nanoid: core._nanoid,
    st.Ref: core._ref,
    st.CopyFromParent: core._copy,
    st.Choice: core._choice,
    st.Quota: core._quota,
    st.Range: core._range,
    st.Normal: core._normal,
    st.Lognormal: core._lognormal,
    st.Exponential: core._exponential,
    st.Pareto: core._pareto,
    st.Bool: core._bool,
    st.Timestamp: core._timestamp,
    st.After: order._after,
    st.Offset: order._offset,
    st.Faker: _faker,
    st.Template: _template,
    st.ListOf: _list,
    st.Json: _json,
    st.Expr: _expr,
    st.Nullable: _nullable,
    st.Const: _const,
    st.Default: _default,
    st.Custom: _custom,
    st.Element: _element,
}

# --------------------------------------------------------------------------- value families

_FAMILY = {
    "sequence": "int",
    "uuid": "uuid",
    "nanoid": "text",
    "bool": "bool",
    "faker": "text",
    "offset": "number",
    "template": "text",
    "json": "json",
    "expr": "any",
    "custom": "any",
    "default": "any",
    "normal": "number",
    "lognormal": "number",
    "exponential": "number",
    "pareto": "number",
}


def family(table: ResolvedTable, strat: st.Strategy, tables: dict[str, ResolvedTable]) -> str:
    """The family of values a strategy makes (``any`` when only the run knows)."""
    s = unwrap(strat)
    if isinstance(s, st.Ref):
        parent = tables[s.table]
        return family(parent, parent.spec.columns[parent_key(tables, s, s.table)], tables)
    if isinstance(s, st.CopyFromParent):
        ref = unwrap(table.spec.columns[s.ref])
        assert isinstance(ref, st.Ref)
        return family(tables[ref.table], tables[ref.table].spec.columns[s.column], tables)
    if isinstance(s, st.After):
        return family(table, table.spec.columns[s.of], tables)
    if isinstance(s, st.Timestamp):
        return "timestamp" if s.unit == "timestamp" else "int"
    if isinstance(s, st.Range):
        return "int" if s.integer else "number"
    if isinstance(s, st.ListOf):
        return "json" if s.format == "json" else "array"
    if isinstance(s, st.Element):
        return _element_family(table, s, tables)
    if isinstance(s, st.Choice | st.Quota | st.Const):
        return _scalar_family(s.values if not isinstance(s, st.Const) else [s.value])
    return _FAMILY[s.kind]


def _element_family(table: ResolvedTable, s: st.Element, tables: dict[str, ResolvedTable]) -> str:
    pp = table.spec.per_parent
    parent = tables[pp.table] if pp else None
    lst = unwrap(parent.spec.columns[s.of]) if parent else None
    if not isinstance(lst, st.ListOf) or parent is None:
        return "any"
    if lst.values is not None:
        return _scalar_family(lst.values)
    key = parent_key(tables, st.Ref(kind="ref", table=str(lst.table), column=lst.column), s.of)
    return family(tables[str(lst.table)], tables[str(lst.table)].spec.columns[key], tables)


def _scalar_family(items: list[Any]) -> str:
    kinds = {type(v) for v in items if v is not None}
    if kinds <= {bool}:
        return "bool" if kinds else "any"
    if kinds <= {int}:
        return "int"
    return "number" if kinds <= {int, float} else "text"
