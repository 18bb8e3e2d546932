"""``--append``'s plan, decided before anything is dropped: per table, the rows coming and
there, the index strategy, and the key graph (primary key, unique keys, FKs, partition ancestors).

The merge (``loader.append_merge``) goes parents first, so a reference within the set that is
not parent-first (a self-reference, a cycle) is refused here, before anything is written. An
initial load gets a plan too (strategy and index count only): it is what the log and
``--dry-run`` print, and what the ledger keeps for ``--resume``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import psycopg
from psycopg import sql

from loader import catalog
from seedgen.errors import SchemaMismatchError
from seedgen.manifest import Manifest, TableSpec, qualified_name

Strategy = Literal["rebuild", "keep"]


@dataclass(frozen=True)
class ForeignKey:
    """A database FK, or a reference the manifest declares (``table`` set, maybe ``when``)."""

    name: str
    columns: list[str]
    parent: list[str]  # [schema, table] the FK references (may be a partitioned parent)
    parent_columns: list[str]
    table: str | None = None  # declared reference: the set table it points into
    when: dict[str, str] = field(default_factory=dict)  # declared reference: rows it covers


@dataclass
class TablePlan:
    """What the loader will do with one table, decided before anything is dropped."""

    table: str
    position: int
    incoming: int
    existing: int
    strategy: Strategy
    indexes: int = 0
    primary_key: list[str] = field(default_factory=list)
    unique_keys: dict[str, list[str]] = field(default_factory=dict)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    relations: list[list[str]] = field(default_factory=list)  # itself and partition ancestors
    # key columns in a range the set reserves (checked empty before COPY): a key or unique value
    # containing one cannot already exist, so those joins against the live table are skipped
    reserved: list[str] = field(default_factory=list)

    def describe(self, append: bool) -> str:
        if not append:
            return (
                f"{self.table}: initial load of {self.incoming:,} rows into an empty table: "
                f"drop and rebuild {self.indexes} index(es)"
            )
        ratio = self.incoming / self.existing if self.existing else float("inf")
        how = (
            f"drop and rebuild {self.indexes} index(es)"
            if self.strategy == "rebuild"
            else f"keep its {self.indexes} index(es), insert through them"
        )
        return (
            f"{self.table}: append {self.incoming:,} rows to ~{self.existing:,} "
            f"(ratio {ratio:.2f}): {how}"
        )

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TablePlan:
        fks = [ForeignKey(**fk) for fk in data.get("foreign_keys", [])]
        return cls(**{**data, "foreign_keys": fks})


_UNIQUE_KEYS = """
SELECT c.relname, i.indisprimary,
       array(SELECT a.attname FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n
             WHERE k.o <= i.indnkeyatts ORDER BY k.o)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = %s::regclass AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
ORDER BY i.indisprimary DESC, c.relname
"""

_ANCESTORS = """
SELECT n.nspname, c.relname FROM pg_partition_ancestors(%s::regclass) a
JOIN pg_class c ON c.oid = a.relid JOIN pg_namespace n ON n.oid = c.relnamespace
"""


def existing_rows(cur: psycopg.Cursor, table: TableSpec) -> int:
    """The planner's estimate when it has one, else an exact count (cheap when it is small)."""
    name = _regclass(cur, table.qualified)
    row = cur.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", (name,))
    estimate = (row.fetchone() or (0,))[0]
    if estimate > 0:
        return int(estimate)
    counted = cur.execute(
        sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*table.qualified))
    ).fetchone()
    return int(counted[0]) if counted else 0


def plan_tables(
    cur: psycopg.Cursor,
    manifest: Manifest,
    indexes: dict[str, int],
    *,
    append: bool,
    rebuild_ratio: float,
) -> list[TablePlan]:
    """Per table: rows coming and there, the index strategy, and (for append) the key graph."""
    plans = []
    for position, table in enumerate(manifest.tables):
        existing = existing_rows(cur, table) if append else 0
        rebuild = existing == 0 or table.rows >= rebuild_ratio * existing
        plan = TablePlan(
            table=table.name,
            position=position,
            incoming=table.rows,
            existing=existing,
            strategy="rebuild" if rebuild else "keep",
            indexes=indexes.get(table.name, 0),
        )
        if append:
            _describe_keys(cur, table, plan)
            plan.reserved = [c for c in plan.primary_key if c in table.key_ranges]
        plans.append(plan)
    if append:
        _refuse_backward_references(manifest, plans)
    return plans


def points_at(fk: ForeignKey, table: TableSpec, plan: TablePlan) -> bool:
    """Whether ``fk`` can reference rows of set table ``table``."""
    return fk.table == table.name if fk.table else fk.parent in plan.relations


def _refuse_backward_references(manifest: Manifest, plans: list[TablePlan]) -> None:
    """The merge goes parents first; a reference to the same or a later table of the set (a
    self-reference, a cycle) would be rewritten or cascaded too late: refuse it up front.

    An FK cycle is refused rather than merged in one transaction: a row left out of one table
    of the cycle (a taken unique value) must drop or remap rows of a table merged before it,
    which the parent-first merge cannot undo, and deferring the checks would only move the
    dangling reference to COMMIT. Before anything is written, named, with a way out."""
    edges = {
        child.table: [
            (fk, table.name, parent.position)
            for fk in child.foreign_keys
            for table, parent in zip(manifest.tables, plans, strict=True)
            if points_at(fk, table, parent)
        ]
        for child in plans
    }
    for child in plans:
        for fk, parent, position in edges[child.table]:
            if position < child.position:
                continue
            cycle = _path(edges, parent, child.table)
            if parent != child.table and cycle:
                raise SchemaMismatchError(
                    f"--append refuses the foreign-key cycle {' -> '.join([child.table, *cycle])}"
                    f" ({fk.name}): a row left out of one of its tables would leave a dangling "
                    "reference in a table merged before it",
                    hint="load the set into empty tables (an initial load adds the cycle's FKs "
                    "after COPY), or drop one FK of the cycle while appending",
                )
            raise SchemaMismatchError(
                f"--append cannot yet follow {fk.name} from {child.table} to "
                f"{parent} (a reference within the set that is not parent-first)",
                hint="load into empty tables without --append",
            )


def _path(edges: dict[str, list[tuple[ForeignKey, str, int]]], start: str, goal: str) -> list[str]:
    """Tables from ``start`` to ``goal`` along the set's references, or [] if none."""
    before: dict[str, str] = {start: start}
    todo = [start]
    while todo:
        node = todo.pop(0)
        if node == goal:
            path = [node]
            while path[-1] != start:
                path.append(before[path[-1]])
            return path[::-1]
        for _, nxt, _ in edges.get(node, []):
            if nxt not in before:
                before[nxt] = node
                todo.append(nxt)
    return []


def _describe_keys(cur: psycopg.Cursor, table: TableSpec, plan: TablePlan) -> None:
    """Primary key, unique keys and FKs of the live table, as far as the set's columns reach
    (a unique key or FK over a column the set leaves to its default is the database's job)."""
    name = _regclass(cur, table.qualified)
    have = {c.name for c in table.columns}
    for index, primary, columns in cur.execute(_UNIQUE_KEYS, (name,)).fetchall():
        if primary:
            plan.primary_key = list(columns)
        elif list(columns) != plan.primary_key and set(columns) <= have:
            plan.unique_keys[index] = list(columns)
    if not plan.primary_key or not set(plan.primary_key) <= have:
        raise SchemaMismatchError(
            f"table {table.name} has no primary key the set fills; --append cannot tell its "
            "rows apart",
            hint="give the table a primary key, or load into an empty database without --append",
        )
    plan.foreign_keys = [
        ForeignKey(fk.name, fk.columns, [fk.parent_schema, fk.parent_table], fk.parent_columns)
        for fk in catalog.foreign_keys(cur, catalog.table_oids(cur, [table.qualified]), cloned=True)
        if set(fk.columns) <= have
    ]
    for ref in table.references:
        when = " ".join(f"{k}={v}" for k, v in ref.when.items())
        plan.foreign_keys.append(
            ForeignKey(
                f"{table.name}({', '.join(ref.columns)}) -> {ref.table} {when}".strip(),
                ref.columns,
                list(qualified_name(ref.table)),
                ref.parent_columns,
                table=ref.table,
                when=dict(ref.when),
            )
        )
    # pg_partition_ancestors lists nothing for a table outside a partition tree
    ancestors = [list(r) for r in cur.execute(_ANCESTORS, (name,))]
    plan.relations = [list(table.qualified), *(a for a in ancestors if a != list(table.qualified))]


def live_primary_key(cur: psycopg.Cursor, table: TableSpec) -> list[str]:
    """The live table's primary-key columns, in index order ([] if it has none)."""
    for _index, primary, columns in cur.execute(
        _UNIQUE_KEYS, (_regclass(cur, table.qualified),)
    ).fetchall():
        if primary:
            return list(columns)
    return []


def referenced_columns(manifest: Manifest, plans: list[TablePlan], plan: TablePlan) -> set[str]:
    """Columns of ``plan``'s table that later tables of the set reference."""
    table = manifest.tables[plan.position]
    return {
        col
        for child in plans[plan.position + 1 :]
        for fk in child.foreign_keys
        if points_at(fk, table, plan)
        for col in fk.parent_columns
    }


def carried_columns(manifest: Manifest, plans: list[TablePlan], plan: TablePlan) -> list[str]:
    """Columns a conflict row keeps of its staged row: the key, and what later tables of the set
    reference (their mappings read it from here, not from staging)."""
    extra = sorted(referenced_columns(manifest, plans, plan) - set(plan.primary_key))
    return [*plan.primary_key, *extra]


def _regclass(cur: psycopg.Cursor, qualified: tuple[str, str]) -> str:
    return sql.Identifier(*qualified).as_string(cur)
