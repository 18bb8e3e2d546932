"""Resolve a spec against its tables and check it, before any row exists.

``resolve`` merges the spec with the tables it describes (columns it does not name come from
``fill``, i.e. inference, when given), then checks, each failure one ``SpecError`` naming the
table and column and what to change: tables and columns exist, references resolve, column
dependencies form no cycle (``graphlib``; the cycle is named), NOT NULL columns are covered
unless the database fills them, each strategy fits its column's type, unique columns are
feasible (pool size vs rows), and every foreign key is produced from one parent row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter

from generator.spec import strategies as st
from generator.spec.model import DatasetSpec, TableSpec
from generator.spec.sources import ColumnInfo, TableInfo, may_be_null, unknown
from generator.spec.types import accepts
from seedgen.errors import SpecError

Fill = Callable[[TableInfo, dict[str, TableInfo]], TableSpec]


@dataclass(frozen=True)
class ResolvedTable:
    name: str
    info: TableInfo
    spec: TableSpec  # complete: a strategy for every column it writes

    @property
    def produced(self) -> list[str]:
        """Columns written to the shards, in table order."""
        cols = self.spec.columns
        return [c for c in self.info.columns if c in cols and _writes(cols[c])]


def _writes(strat: st.Strategy) -> bool:
    return not strat.hidden and not isinstance(strat, st.Default)


def unwrap(strat: st.Strategy) -> st.Strategy:
    return strat.of if isinstance(strat, st.Nullable) else strat


def resolve(
    spec: DatasetSpec, infos: dict[str, TableInfo], fill: Fill | None
) -> list[ResolvedTable]:
    """The tables to generate, each with a complete spec, in dependency order."""
    for name in spec.tables:
        if name not in infos:
            raise unknown("table", name, list(infos), "the models/database")
    names = list(infos) if fill else list(spec.tables)
    tables = {n: _merge(infos[n], spec.tables.get(n), fill, infos) for n in names}
    for table in tables.values():
        _check_table(table, tables)
    order = _column_order(tables)
    return [tables[n] for n in _table_order(tables, order)]


def _merge(
    info: TableInfo, given: TableSpec | None, fill: Fill | None, infos: dict[str, TableInfo]
) -> ResolvedTable:
    base = fill(info, infos) if fill else TableSpec()
    if given is None:
        return ResolvedTable(info.name, info, base)
    for col, strat in given.columns.items():
        if col not in info.columns and not strat.hidden:
            raise unknown(f"column of table {info.name}", col, list(info.columns), "the table")
    merged = base.model_copy(
        update={
            **{k: getattr(given, k) for k in given.model_fields_set},
            "columns": {**base.columns, **given.columns},
        }
    )
    if "per_parent" in given.model_fields_set:
        merged = merged.model_copy(update={"rows": None})
    return ResolvedTable(info.name, info, merged)


# --------------------------------------------------------------------------- per-table checks


def _check_table(table: ResolvedTable, tables: dict[str, ResolvedTable]) -> None:
    spec, info = table.spec, table.info
    if spec.rows is None and spec.per_parent is None:
        raise SpecError(
            f"table {table.name}: no row count", hint="add rows: N or per_parent: {table, count}"
        )
    if spec.per_parent and spec.per_parent.count.kind == "list":
        pp = spec.per_parent
        where = f"table {table.name}: per_parent list column"
        listed = column_of(tables, pp.table, str(pp.count.column), where)
        if not isinstance(listed, st.ListOf):
            raise SpecError(
                f"{where} {pp.table}.{pp.count.column} is not of kind list",
                hint="count kind list explodes a column of kind list",
            )
    if spec.per_parent and spec.per_parent.table not in tables:
        raise unknown(
            f"table {table.name}: per_parent table", spec.per_parent.table, list(tables), "the spec"
        )
    for col, column in info.columns.items():
        strat = spec.columns.get(col)
        _check_covered(table.name, column, strat, spec.columns)
        if strat is not None and not isinstance(strat, st.Default):
            _check_refs(table, col, strat, tables)
            _check_fit(table, col, column, strat, tables)
    for col, strat in spec.columns.items():
        if col not in info.columns:
            _check_refs(table, col, strat, tables)
    _check_foreign_keys(table, tables)
    _check_composite_keys(table)
    _check_checks(table)


_TIME = ("timestamp", "date")


def _check_checks(table: ResolvedTable) -> None:
    """Every CHECK is of a shape inference satisfies (checks.py), or assumed by the spec."""
    from generator.spec.checks import analyse

    for name, text in table.info.checks:
        if name in table.spec.assume_checks:
            continue
        facts = analyse([(name, text)])
        pairs_ok = all(
            table.info.columns[c].type.family in _TIME for pair in facts.ordered for c in pair
        )
        if facts.unsupported or not pairs_ok:
            raise SpecError(
                f"table {table.name}: cannot satisfy CHECK {name} ({text}) by construction",
                hint=f"give its columns strategies that satisfy it and add {name} to the "
                f"table's assume_checks",
            )


_BIJECTIVE = (st.Sequence, st.Uuid, st.Nanoid)


def _bijective(strat: st.Strategy | None) -> bool:
    if isinstance(strat, st.Timestamp) and strat.step_seconds is not None:
        return True
    return isinstance(strat, _BIJECTIVE) or bool(strat and strat.unique)


def _driving_and_distinct(table: ResolvedTable, key: list[str]) -> bool:
    """The key holds the group's parent (per_parent) and a ref distinct within the group."""
    pp = table.spec.per_parent
    refs = [(c, unwrap(table.spec.columns[c])) for c in key if c in table.spec.columns]
    driving = any(isinstance(s, st.Ref) and pp and s.table == pp.table for _, s in refs)
    # a list samples without replacement: its elements are distinct within a group
    return driving and any(
        (isinstance(s, st.Ref) and s.distinct) or isinstance(s, st.Element) for _, s in refs
    )


def _covers_grid(table: ResolvedTable, key: list[str]) -> bool:
    """Every ref of some grid is in the key (its combinations are distinct)."""
    grids = {s.grid for s in map(unwrap, table.spec.columns.values()) if isinstance(s, st.Ref)}
    for grid in grids - {None}:
        members = [
            c
            for c, s in table.spec.columns.items()
            if isinstance(unwrap(s), st.Ref) and unwrap(s).grid == grid  # type: ignore[union-attr]
        ]
        if set(members) <= set(key):
            return True
    return False


def _check_composite_keys(table: ResolvedTable) -> None:
    """A key is unique by construction when one of its columns is: a sequence, uuid or nanoid,
    or any strategy marked unique (each of those is a bijection of the row index)."""
    cols = table.spec.columns
    for key in [table.info.primary_key, *table.info.uniques]:
        strats = [cols.get(c) for c in key]
        if not key or any(_bijective(s) for s in strats) or _covers_grid(table, key):
            continue
        if _driving_and_distinct(table, key):
            continue
        if all(s is None or isinstance(s, st.Default) for s in strats):
            continue  # the database fills the key (identity)
        what = "primary key" if key == table.info.primary_key else "unique key"
        raise SpecError(
            f"table {table.name}: {what} ({', '.join(key)}) is not unique by construction",
            hint=f"give {key[0]} a key kind (sequence, uuid, nanoid) or unique: true",
        )


def _check_covered(
    table: str, column: ColumnInfo, strat: st.Strategy | None, columns: dict[str, st.Strategy]
) -> None:
    where = f"table {table}, column {column.name}"
    writes = strat is not None and _writes(strat)
    if not writes and not column.nullable and not column.db_fills:
        raise SpecError(
            f"{where}: NOT NULL with no default and no strategy",
            hint=f"give it one in the spec, e.g. {column.name}: {{kind: const, value: ...}}",
        )
    if isinstance(strat, st.CopyFromParent) and not column.nullable and may_be_null(columns, strat):
        raise SpecError(
            f"{where}: NOT NULL but copied through {strat.ref}, which may be NULL",
            hint=f"make {strat.ref} non-null or wrap {column.name} in nullable",
        )
    if isinstance(strat, st.Nullable) and not column.nullable and strat.share > 0:
        raise SpecError(
            f"{where}: NOT NULL but its strategy is nullable (share {strat.share})",
            hint="drop the nullable wrapper or make the column nullable",
        )


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
        matched = [(strat.table, p) for p in strat.match] + [
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
    if isinstance(strat, st.After):
        return [strat.of]
    if isinstance(strat, st.Expr):
        from generator.spec import expr

        return expr.names(expr.parse(strat.expr, where))
    if isinstance(strat, st.Template):
        from generator.spec.compile_text import template_slots

        return template_slots(strat, where)
    return []


def _check_refs(
    table: ResolvedTable, col: str, strat: st.Strategy, tables: dict[str, ResolvedTable]
) -> None:
    dependencies(table, col, strat, tables)


def _check_fit(
    table: ResolvedTable,
    col: str,
    column: ColumnInfo,
    strat: st.Strategy,
    tables: dict[str, ResolvedTable],
) -> None:
    from generator.spec.compile_text import family

    fam = family(table, strat, tables)
    if fam != "any" and not accepts(column.type, fam):
        raise SpecError(
            f"table {table.name}, column {col}: kind {unwrap(strat).kind} makes {fam} values, "
            f"which do not fit type {column.type.spelling}",
            hint="choose a kind that makes values of the column's type",
        )


def _check_foreign_keys(table: ResolvedTable, tables: dict[str, ResolvedTable]) -> None:
    cols = table.spec.columns
    for child, parent, parent_cols in table.info.foreign_keys:
        if parent not in tables:
            continue
        pairs = dict(zip(child, parent_cols, strict=True))
        anchors = [c for c in child if _refs_to(cols.get(c), parent)]
        ok = len(anchors) == 1 and all(
            c == anchors[0]
            or _copies(cols[c], anchors[0], pairs[c])
            or _matched(cols[anchors[0]], pairs[c], c)
            for c in child
            if c in cols and _writes(cols[c])
        )
        if not ok:
            first = child[0]
            raise SpecError(
                f"table {table.name}: foreign key ({', '.join(child)}) -> {parent}"
                f"({', '.join(parent_cols)}) is not produced from one parent row",
                hint=f"make {first} {{kind: ref, table: {parent}, column: {pairs[first]}}} and the "
                f"other columns {{kind: copy_from_parent, ref: {first}, column: ...}}",
            )


def _matched(anchor: st.Strategy, parent_column: str, column: str) -> bool:
    """The anchor ref only picks parents whose ``parent_column`` equals this row's ``column``."""
    inner = unwrap(anchor)
    return isinstance(inner, st.Ref) and inner.match.get(parent_column) == column


def _refs_to(strat: st.Strategy | None, parent: str) -> bool:
    inner = unwrap(strat) if strat is not None else None
    return isinstance(inner, st.Ref) and inner.table == parent


def _copies(strat: st.Strategy, anchor: str, parent_column: str) -> bool:
    return (
        isinstance(strat, st.CopyFromParent)
        and strat.ref == anchor
        and strat.column == parent_column
    )


# --------------------------------------------------------------------------- ordering


def _column_order(tables: dict[str, ResolvedTable]) -> list[tuple[str, str]]:
    graph: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for table in tables.values():
        for col, strat in table.spec.columns.items():
            graph[(table.name, col)] = dependencies(table, col, strat, tables)
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        cycle = " -> ".join(f"{t}.{c}" for t, c in exc.args[1])
        raise SpecError(
            f"columns depend on each other in a cycle: {cycle}",
            hint="break the cycle: compute one of them without the other",
        ) from None


def _table_order(tables: dict[str, ResolvedTable], columns: list[tuple[str, str]]) -> list[str]:
    graph: dict[str, set[str]] = {name: set() for name in tables}
    for table in tables.values():
        graph[table.name] |= {
            p for _, p, _ in table.info.foreign_keys if p in tables and p != table.name
        }
        if table.spec.per_parent:
            graph[table.name].add(table.spec.per_parent.table)
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise SpecError(
            f"foreign keys form a cycle: {' -> '.join(exc.args[1])}",
            hint="FK cycles are not supported by the spec layer yet",
        ) from None
