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
from generator.spec.partitions import check_key
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
    names = [n for n in names if not (n in spec.tables and spec.tables[n].skip)]
    tables = {n: _merge(infos[n], spec.tables.get(n), fill, infos) for n in names}
    order = _column_order(tables)  # first: a cycle of values would recurse in the checks
    for table in tables.values():
        check_table(table, tables)
        part = table.info.partitioning
        if part is not None and len(part.columns) == 1 and part.columns[0] in table.spec.columns:
            key = part.columns[0]
            check_key(table.name, key, part, table.spec.columns[key])
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
            # a builder makes the whole table: no inferred column strategies
            "columns": {} if given.builder else {**base.columns, **given.columns},
        }
    )
    if given.builder:  # it sizes the table: the spec's rows, or the builder's own count
        merged = merged.model_copy(update={"per_parent": None, "rows": given.rows})
    elif "per_parent" in given.model_fields_set:
        merged = merged.model_copy(update={"rows": None})
    elif "rows" in given.model_fields_set:  # the spec's row count wins over inferred groups
        merged = merged.model_copy(update={"per_parent": None})
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
    """Parents first. Foreign keys may form a cycle: keys are pre-assigned, so each side of a
    cycle is known before any row exists (the column order above refuses a cycle of *values*,
    e.g. ``copy_from_parent`` around it). Inside a cycle only ``per_parent`` edges and
    references to ``per_parent`` tables order the tables (their sizes are needed first)."""
    fks: dict[str, set[str]] = {name: set() for name in tables}
    for table in tables.values():
        fks[table.name] |= {
            p for _, p, _ in table.info.foreign_keys if p in tables and p != table.name
        }
    cycles = _strongly_connected(fks)
    graph: dict[str, set[str]] = {}
    for name, table in tables.items():
        graph[name] = {
            p
            for p in fks[name]
            if cycles[p] != cycles[name] or tables[p].spec.per_parent is not None
        }
        if table.spec.per_parent:
            graph[name].add(table.spec.per_parent.table)
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise SpecError(
            f"rows per parent depend on each other in a cycle: {' -> '.join(exc.args[1])}",
            hint="give one table of the cycle a fixed row count (rows: N) instead of per_parent",
        ) from None


def _strongly_connected(graph: dict[str, set[str]]) -> dict[str, frozenset[str]]:
    """Each node's strongly connected component (the tables of its FK cycle, or itself)."""
    reach = {n: _reachable(graph, n) for n in graph}
    return {n: frozenset(m for m in reach[n] if n in reach[m]) | {n} for n in graph}


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen
