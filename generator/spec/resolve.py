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
from graphlib import CycleError, TopologicalSorter

from generator.spec.model import DatasetSpec, TableSpec
from generator.spec.sources import TableInfo, unknown
from generator.spec.tables import ResolvedTable, dependencies, parent_key, unwrap
from generator.spec.validate import check_table
from seedgen.errors import SpecError

__all__ = ["ResolvedTable", "resolve", "parent_key", "unwrap"]


Fill = Callable[[TableInfo, dict[str, TableInfo]], TableSpec]


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
        check_table(table, tables)
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
