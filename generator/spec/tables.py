"""The resolved tables of a spec and what their columns read.

A ``ResolvedTable`` is one table with its facts (``TableInfo``: types, nullability, keys, FKs,
CHECKs) and a complete spec (a strategy for every column it writes). ``dependencies`` names the
(table, column) pairs a column is computed from, checking on the way that each exists: the
planner orders columns by it (``graphlib``) and the validator checks references with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.spec import strategies as st
from generator.spec.model import TableSpec
from generator.spec.sources import TableInfo, unknown
from seedgen.errors import SpecError


@dataclass(frozen=True)
class ResolvedTable:
    name: str
    info: TableInfo
    spec: TableSpec  # complete: a strategy for every column it writes

    @property
    def produced(self) -> list[str]:
        """Columns written to the shards, in table order."""
        cols = self.spec.columns
        built = self.spec.builder
        if built is not None:
            if built.columns is not None:
                return [c for c in self.info.columns if c in built.columns]
            return [c for c, info in self.info.columns.items() if not info.db_fills]
        return [c for c in self.info.columns if c in cols and writes(cols[c])]


def writes(strat: st.Strategy) -> bool:
    return not strat.hidden and not isinstance(strat, st.Default)


def unwrap(strat: st.Strategy) -> st.Strategy:
    return strat.of if isinstance(strat, st.Nullable) else strat


def column_of(tables: dict[str, ResolvedTable], table: str, column: str, where: str) -> st.Strategy:
    if table not in tables:
        raise unknown(f"{where}: table", table, list(tables), "the spec")
    cols = tables[table].spec.columns
    if column not in cols:
        raise unknown(f"{where}: column of table {table}", column, list(cols), "its spec")
    return cols[column]


def parent_key(tables: dict[str, ResolvedTable], ref: st.Ref, where: str) -> str:
    if ref.column:
        return ref.column
    pk = tables[ref.table].info.primary_key if ref.table in tables else []
    if len(pk) != 1:
        raise SpecError(
            f"{where}: table {ref.table} has no single-column primary key",
            hint="name the parent column: {kind: ref, table: ..., column: ...}",
        )
    return pk[0]


def dependencies(
    table: ResolvedTable, col: str, strat: st.Strategy, tables: dict[str, ResolvedTable]
) -> list[tuple[str, str]]:
    """(table, column) pairs this column's values are computed from; checks they exist."""
    where = f"table {table.name}, column {col}"
    same = table.name
    if isinstance(strat, st.Nullable):
        return dependencies(table, col, strat.of, tables)
    if isinstance(strat, st.Json):
        return [
            d for f, s in strat.fields.items() for d in dependencies(table, f"{col}.{f}", s, tables)
        ]
    if isinstance(strat, st.Ref):
        key = parent_key(tables, strat, where)
        column_of(tables, strat.table, key, where)
        matched = [(strat.table, p) for p in [*strat.match, *strat.where]] + [
            (same, c) for c in strat.match.values()
        ]
        for t, c in matched:
            column_of(tables, t, c, where)
        if strat.distinct and table.spec.per_parent is None:
            raise SpecError(
                f"{where}: distinct refs need a per_parent table",
                hint="add per_parent: {table: ..., count: ...} or drop distinct",
            )
        return [(strat.table, key), *matched]
    if isinstance(strat, st.Element):
        pp = table.spec.per_parent
        count = pp.count if pp else None
        if pp is None or count is None or count.kind != "list" or count.column != strat.of:
            raise SpecError(
                f"{where}: element needs the table exploded from list column {strat.of}",
                hint=f"per_parent: {{table: PARENT, count: {{kind: list, column: {strat.of}}}}}",
            )
        return [(pp.table, strat.of)]
    if isinstance(strat, st.CopyFromParent):
        ref = unwrap(column_of(tables, same, strat.ref, where))
        if not isinstance(ref, st.Ref):
            raise SpecError(
                f"{where}: copy_from_parent ref '{strat.ref}' is not a ref column",
                hint="point ref at a column of kind ref in this table",
            )
        column_of(tables, ref.table, strat.column, where)
        return [(same, strat.ref), (ref.table, strat.column)]
    if isinstance(strat, st.ListOf) and strat.table:
        key = parent_key(tables, st.Ref(kind="ref", table=strat.table, column=strat.column), where)
        column_of(tables, strat.table, key, where)
        return [(strat.table, key)]
    names = _same_row_names(strat, where)
    for name in names:
        column_of(tables, same, name, where)
    return [(same, n) for n in names]


def _same_row_names(strat: st.Strategy, where: str) -> list[str]:
    if isinstance(strat, st.After | st.Offset):
        return [strat.of]
    if isinstance(strat, st.Expr):
        from generator.spec import expr

        return expr.names(expr.parse(strat.expr, where))
    if isinstance(strat, st.Template):
        from generator.spec.compile_text import template_slots

        return template_slots(strat, where)
    return []
