"""``seedgen load --append``: a set next to existing rows, with no key collision and no dangling FK.

An append never COPYs into the application's tables directly. Per load, schema ``seedgen`` gets,
for each table of the set (``<n>`` is the table's position in the manifest):

- ``stage_<load>_<n>``: UNLOGGED, the table's columns; the shards are COPYed here (one ledger row
  per shard, as for an initial load, so an interrupted COPY resumes);
- ``conflict_<load>_<n>``: the staged rows that will not be inserted, by key, with why;
- ``keys_<load>_<n>``: the primary keys actually inserted. Kept after the load: ``seedgen reset``
  and an undo remove exactly these rows.

Before anything reaches the application's tables:

1. integer key ranges the manifest reserves are checked against existing rows (before COPY);
2. after COPY, every staged primary key is checked against the live table; a match is allowed
   only for the set's ``shared_keys`` (the same entity: the existing row is kept). Anything else
   is a key collision: the load is refused and nothing is written.

Then each table is merged in its own transaction, parents first (its ledger row commits with it):

a. foreign-key columns are rewritten through the parent's conflicts: a reference to a parent row
   that was ``remap``-ped now points at the existing row that took its place; a row referencing a
   dropped parent row is dropped too (``cascade``, transitively);
b. a staged row whose primary key exists is ``present`` (kept as it is);
c. a staged row whose other unique columns match an existing row is handled by the table's
   ``on_conflict`` policy: ``drop`` (it and its dependents) or ``remap`` (its dependents use the
   existing row);
d. the rest is inserted with ``INSERT … SELECT``, its keys written to ``keys_<load>_<n>``.

The conflicting values are listed in a warning and kept in ``seedgen.conflicts``. References held
inside JSON or text columns are not foreign keys and are not rewritten.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import psycopg
from psycopg import sql

from loader import catalog, ledger
from seedgen.errors import SchemaMismatchError
from seedgen.manifest import Manifest, TableSpec, qualified_name

Strategy = Literal["rebuild", "keep"]
Action = Literal["present", "remap", "drop", "cascade"]
SHOW = 20  # conflicting values listed per table and key in a warning


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


# ------------------------------------------------------------------------------- planning

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


def _points_at(fk: ForeignKey, table: TableSpec, plan: TablePlan) -> bool:
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
            if _points_at(fk, table, parent)
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


def key_range_overlaps(cur: psycopg.Cursor, manifest: Manifest) -> tuple[list[str], int]:
    """Existing rows inside the integer key ranges the set reserves (checked before COPY), and
    the smallest ``key_offset`` that would clear them all."""
    found, needed = [], 0
    offset = int(manifest.config.get("key_offset", 0))
    for table in manifest.tables:
        for column, (low, high) in table.key_ranges.items():
            col, live = sql.Identifier(column), sql.Identifier(*table.qualified)
            row = cur.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE {} BETWEEN %s AND %s").format(live, col),
                (low, high),
            ).fetchone()
            if not row or not row[0]:
                continue
            top = cur.execute(sql.SQL("SELECT max({}) FROM {}").format(col, live)).fetchone()
            needed = max(needed, offset + int(top[0]) - low + 1 if top else offset)
            found.append(f"{table.name}.{column} {low:,}..{high:,} holds {row[0]:,} row(s)")
    return found, needed


# ------------------------------------------------------------------------------- work tables


def _work_name(kind: str, load_id: int, plan: TablePlan) -> str:
    return f"{kind}_{load_id}_{plan.position}"


def _work(kind: str, load_id: int, plan: TablePlan) -> sql.Identifier:
    return sql.Identifier("seedgen", _work_name(kind, load_id, plan))


def has_keys(cur: psycopg.Cursor, load_id: int, plan: TablePlan) -> bool:
    """Whether the load's keys table for ``plan`` exists (dropped by a reset or an undo)."""
    return catalog.relation_exists(cur, "seedgen", _work_name("keys", load_id, plan))


def stage_name(load_id: int, plan: TablePlan) -> tuple[str, str]:
    return ("seedgen", f"stage_{load_id}_{plan.position}")


def create_work_tables(
    cur: psycopg.Cursor, load_id: int, manifest: Manifest, plans: list[TablePlan]
) -> None:
    """Staging, conflict and key tables of one load (same transaction as the ledger row)."""
    for table, plan in zip(manifest.tables, plans, strict=True):
        live = sql.Identifier(*table.qualified)
        pk = plan.primary_key
        # only the set's columns, no constraints: what the set lacks, the INSERT leaves to the
        # live table's defaults, as COPY would
        cur.execute(
            sql.SQL("CREATE UNLOGGED TABLE {} AS SELECT {} FROM {} t WITH NO DATA").format(
                _work("stage", load_id, plan), _cols("t", [c.name for c in table.columns]), live
            )
        )
        cur.execute(
            sql.SQL(
                "CREATE TABLE {} AS SELECT {}, {}, ''::text AS seedgen_action, "
                "''::text AS seedgen_key, ''::text AS seedgen_value FROM {} t WITH NO DATA"
            ).format(
                _work("conflict", load_id, plan),
                _aliased("t", _carried(manifest, plans, plan), "n_"),
                _aliased("t", pk, "e_"),
                live,
            )
        )
        cur.execute(
            sql.SQL("CREATE TABLE {} AS SELECT {} FROM {} t WITH NO DATA").format(
                _work("keys", load_id, plan), _cols("t", pk), live
            )
        )


def staged_rows(cur: psycopg.Cursor, load_id: int, plan: TablePlan) -> int:
    row = cur.execute(sql.SQL("SELECT count(*) FROM {}").format(_work("stage", load_id, plan)))
    return int((row.fetchone() or (0,))[0])


def truncate_stage(cur: psycopg.Cursor, load_id: int, plan: TablePlan) -> None:
    cur.execute(sql.SQL("TRUNCATE {}").format(_work("stage", load_id, plan)))


def drop_work_tables(
    cur: psycopg.Cursor, load_id: int, plans: list[TablePlan], *, keys: bool
) -> None:
    kinds = ("stage", "conflict", "keys") if keys else ("stage", "conflict")
    for plan in plans:
        for kind in kinds:
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_work(kind, load_id, plan)))


# ------------------------------------------------------------------------------- checks


def key_collisions(
    cur: psycopg.Cursor, load_id: int, manifest: Manifest, plans: list[TablePlan], skip: set[str]
) -> list[str]:
    """Staged keys that exist already and are not the set's shared keys (read-only)."""
    found = []
    for table, plan in zip(manifest.tables, plans, strict=True):
        if table.name in skip or plan.reserved:
            continue
        pk = plan.primary_key
        query = sql.SQL(
            "SELECT count(*), (array_agg({k}))[1:3] FROM {s} s JOIN {t} t ON {eq} "
            "WHERE NOT ({k} = ANY(%s::text[]))"
        ).format(
            k=key_text("s", pk),
            s=_work("stage", load_id, plan),
            t=sql.Identifier(*table.qualified),
            eq=_eq("s", pk, "t", pk),
        )
        count, examples = cur.execute(query, (table.shared_keys,)).fetchone() or (0, [])
        if count:
            found.append(
                f"{table.name}: {count:,} key(s) already exist ({', '.join(examples)}"
                f"{', …' if count > len(examples) else ''})"
            )
    return found


# ------------------------------------------------------------------------------- merge


@dataclass
class MergeResult:
    inserted: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # action -> rows not inserted
    conflicts: list[tuple[str, str, int, list[str]]] = field(default_factory=list)


def merge_table(
    cur: psycopg.Cursor,
    load_id: int,
    manifest: Manifest,
    plans: list[TablePlan],
    table: TableSpec,
) -> MergeResult:
    """Steps a–d of the module docstring for one table; the caller owns the transaction."""
    plan = plans[manifest.tables.index(table)]
    stage, conflict = _work("stage", load_id, plan), _work("conflict", load_id, plan)
    live = sql.Identifier(*table.qualified)
    pk = plan.primary_key
    npk = [f"n_{c}" for c in pk]
    carried = _carried(manifest, plans, plan)  # what children's mappings need, kept logged
    ncarried = [f"n_{c}" for c in carried]
    unseen = sql.SQL("NOT EXISTS (SELECT 1 FROM {} c WHERE {})").format(
        conflict, _eq("c", npk, "s", pk)
    )
    parents = _parent_maps(load_id, manifest, plans, plan)
    # a. remaps first (they may change key columns), then cascades on the final values
    referenced = _referenced_columns(manifest, plans, plan)
    rewritten: set[str] = set()
    for fk, mapping in parents:
        cols = fk.columns
        n_cols = [f"n_{c}" for c in fk.parent_columns]
        e_cols = [f"e_{c}" for c in fk.parent_columns]
        cur.execute(
            sql.SQL(
                "UPDATE {s} s SET {set} FROM ({m}) m WHERE {match}{when} "
                "AND m.action IN ('remap', 'present') AND ({n}) IS DISTINCT FROM ({e})"
            ).format(
                when=_when("s", fk.when),
                s=stage,
                set=sql.SQL(", ").join(
                    sql.SQL("{} = m.{}").format(sql.Identifier(c), sql.Identifier(e))
                    for c, e in zip(cols, e_cols, strict=True)
                ),
                m=mapping,
                match=_eq("s", cols, "m", n_cols),
                n=_cols("m", n_cols),
                e=_cols("m", e_cols),
            )
        )
        if cur.rowcount:
            rewritten |= set(cols)
        if cur.rowcount and referenced & set(cols):
            raise SchemaMismatchError(
                f"{table.name}: {cur.rowcount:,} row(s) had {', '.join(cols)} rewritten by "
                f"{fk.name}, and other tables of the set reference those columns; --append "
                "cannot follow that yet",
                hint="load into empty tables without --append",
            )
    for fk, mapping in parents:
        n_cols = [f"n_{c}" for c in fk.parent_columns]
        cur.execute(
            sql.SQL(
                "INSERT INTO {c} ({npk}, seedgen_action, seedgen_key, seedgen_value) "
                "SELECT DISTINCT {spk}, 'cascade', %s, {v} FROM {s} s JOIN ({m}) m ON {match} "
                "WHERE m.action IN ('drop', 'cascade') AND {unseen}{when}"
            ).format(
                when=_when("s", fk.when),
                c=conflict,
                npk=_cols(None, ncarried),
                spk=_cols("s", carried),
                v=key_text("s", fk.columns),
                s=stage,
                m=mapping,
                match=_eq("s", fk.columns, "m", n_cols),
                unseen=unseen,
            ),
            (fk.name,),
        )
    # b. the same key is the same row; c. another unique column taken: the table's policy
    keys = [
        ("primary key", pk, "present"),
        *((n, c, table.on_conflict) for n, c in plan.unique_keys.items()),
    ]
    reserved = set(plan.reserved) - rewritten
    for key_name, columns, action in keys:
        if reserved & set(columns):
            continue  # holds a value from the set's reserved range: no existing row has it
        cur.execute(
            sql.SQL(
                "INSERT INTO {c} ({npk}, {epk}, seedgen_action, seedgen_key, seedgen_value) "
                "SELECT {spk}, {tpk}, %s, %s, {v} FROM {s} s JOIN {t} t ON {match} WHERE {unseen}"
            ).format(
                c=conflict,
                npk=_cols(None, ncarried),
                epk=_cols(None, [f"e_{c}" for c in pk]),
                spk=_cols("s", carried),
                tpk=_cols("t", pk),
                v=key_text("s", columns),
                s=stage,
                t=live,
                match=_eq("s", columns, "t", columns),
                unseen=unseen,
            ),
            (action, key_name),
        )
    # d. the rest goes in; its keys are what reset and undo remove
    names = [c.name for c in table.columns]
    cur.execute(
        sql.SQL(
            "WITH ins AS (INSERT INTO {t} ({cols}) OVERRIDING SYSTEM VALUE "
            "SELECT {scols} FROM {s} s WHERE {unseen} RETURNING {pk}) "
            "INSERT INTO {k} SELECT * FROM ins"
        ).format(
            t=live,
            cols=_cols(None, names),
            scols=_cols("s", names),
            s=stage,
            unseen=unseen,
            pk=_cols(None, pk),
            k=_work("keys", load_id, plan),
        )
    )
    inserted = cur.rowcount
    counts = {
        str(action): int(count)
        for action, count in cur.execute(
            sql.SQL("SELECT seedgen_action, count(*) FROM {} GROUP BY 1").format(conflict)
        )
    }
    cur.execute(
        sql.SQL(
            "INSERT INTO seedgen.conflicts (load_id, table_name, action, key_name, value, "
            "existing_key) SELECT %s, %s, seedgen_action, seedgen_key, seedgen_value, {e} "
            "FROM {c} WHERE seedgen_action <> 'cascade'"
        ).format(e=key_identity(None, [f"e_{c}" for c in pk]), c=conflict),
        (load_id, table.name),
    )
    ledger.mark_merged(cur, load_id, table.name, inserted, counts)
    return recorded_result(cur, load_id, table.name, inserted, counts)


def recorded_result(
    cur: psycopg.Cursor, load_id: int, table: str, inserted: int, counts: dict[str, int]
) -> MergeResult:
    """A merged table's outcome as the ledger keeps it (also after a resume)."""
    result = MergeResult(inserted=inserted, counts=dict(counts))
    for action, key_name, count, values in cur.execute(
        "SELECT action, key_name, count(*), (array_agg(value ORDER BY value))[1:%s] "
        "FROM seedgen.conflicts WHERE load_id = %s AND table_name = %s "
        "AND action IN ('drop', 'remap') GROUP BY 1, 2 ORDER BY 1, 2",
        (SHOW, load_id, table),
    ):
        result.conflicts.append((action, key_name, int(count), list(values)))
    return result


def _referenced_columns(manifest: Manifest, plans: list[TablePlan], plan: TablePlan) -> set[str]:
    """Columns of ``plan``'s table that later tables of the set reference."""
    table = manifest.tables[plan.position]
    return {
        col
        for child in plans[plan.position + 1 :]
        for fk in child.foreign_keys
        if _points_at(fk, table, plan)
        for col in fk.parent_columns
    }


def _carried(manifest: Manifest, plans: list[TablePlan], plan: TablePlan) -> list[str]:
    """Columns a conflict row keeps of its staged row: the key, and what later tables of the set
    reference (their mappings read it from here, not from staging)."""
    extra = sorted(_referenced_columns(manifest, plans, plan) - set(plan.primary_key))
    return [*plan.primary_key, *extra]


def _parent_maps(
    load_id: int, manifest: Manifest, plans: list[TablePlan], plan: TablePlan
) -> list[tuple[ForeignKey, sql.Composable]]:
    """For each FK of ``plan``'s table and each set table it can point at: a mapping query
    ``(n_<parent col>…, e_<parent col>…, action)`` from the parent's conflicts.

    Only logged tables are read (the parent's conflicts carry the referenced values), so a
    server restart that empties the UNLOGGED staging of a merged parent loses nothing."""
    out: list[tuple[ForeignKey, sql.Composable]] = []
    for fk in plan.foreign_keys:
        for parent_table, parent in zip(manifest.tables, plans, strict=True):
            if not _points_at(fk, parent_table, parent) or parent.position >= plan.position:
                continue
            pk, pcols = parent.primary_key, fk.parent_columns
            mapping = sql.SQL(
                "SELECT {n}, {e}, c.seedgen_action AS action FROM {c} c LEFT JOIN {t} pt ON {m}"
            ).format(
                n=_cols("c", [f"n_{c}" for c in pcols]),
                e=_aliased("pt", pcols, "e_"),
                c=_work("conflict", load_id, parent),
                t=sql.Identifier(*parent_table.qualified),
                m=_eq("pt", pk, "c", [f"e_{c}" for c in pk]),
            )
            out.append((fk, mapping))
    return out


# ------------------------------------------------------------------------------- undo and reset


def keys_table(load_id: int, plan: TablePlan) -> sql.Identifier:
    return _work("keys", load_id, plan)


def recorded(cur: psycopg.Cursor, load_id: int, plan: TablePlan) -> int | None:
    """Rows in a load's keys table (None if it has none)."""
    keys = _work("keys", load_id, plan)
    if not has_keys(cur, load_id, plan):
        return None
    counted = cur.execute(sql.SQL("SELECT count(*) FROM {}").format(keys)).fetchone()
    return int(counted[0]) if counted else 0


def live_primary_key(cur: psycopg.Cursor, table: TableSpec) -> list[str]:
    """The live table's primary-key columns, in index order ([] if it has none)."""
    for _index, primary, columns in cur.execute(
        _UNIQUE_KEYS, (_regclass(cur, table.qualified),)
    ).fetchall():
        if primary:
            return list(columns)
    return []


def delete_inserted(
    cur: psycopg.Cursor, load_id: int, table: TableSpec, plan: TablePlan, *, dry_run: bool = False
) -> int:
    """Delete (or count) the rows this load inserted into ``table``, by its keys table."""
    if not has_keys(cur, load_id, plan):
        return 0
    keys = _work("keys", load_id, plan)
    return delete_by_keys(cur, table.qualified, keys, plan.primary_key, dry_run=dry_run)


def delete_by_keys(
    cur: psycopg.Cursor,
    table: tuple[str, str],
    keys: sql.Identifier,
    columns: list[str],
    *,
    dry_run: bool = False,
) -> int:
    """Delete (or count) the rows of ``table`` whose ``columns`` appear in relation ``keys``."""
    live, match = sql.Identifier(*table), _eq("t", columns, "k", columns)
    if dry_run:
        row = cur.execute(
            sql.SQL("SELECT count(*) FROM {} t JOIN {} k ON {}").format(live, keys, match)
        )
        return int((row.fetchone() or (0,))[0])
    cur.execute(sql.SQL("DELETE FROM {} t USING {} k WHERE {}").format(live, keys, match))
    return cur.rowcount


def conflict_warnings(table: str, result: MergeResult) -> list[str]:
    lines = []
    for action, key_name, count, values in result.conflicts:
        shown = ", ".join(values) + (
            f", … ({count - len(values):,} more)" if count > len(values) else ""
        )
        verb = "dropped" if action == "drop" else "remapped to the existing row"
        lines.append(f"{table}: {count:,} row(s) {verb}: {key_name} already taken: {shown}")
    cascade = result.counts.get("cascade", 0)
    if cascade:
        lines.append(f"{table}: {cascade:,} row(s) dropped with the rows they reference")
    return lines


# ------------------------------------------------------------------------------- SQL pieces


def _regclass(cur: psycopg.Cursor, qualified: tuple[str, str]) -> str:
    return sql.Identifier(*qualified).as_string(cur)


def _col(alias: str | None, column: str) -> sql.Composable:
    if alias is None:
        return sql.Identifier(column)
    return sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(column))


def _cols(alias: str | None, columns: list[str]) -> sql.Composable:
    return sql.SQL(", ").join(_col(alias, c) for c in columns)


def _aliased(alias: str, columns: list[str], prefix: str) -> sql.Composable:
    return sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(_col(alias, c), sql.Identifier(prefix + c)) for c in columns
    )


def _eq(a: str, a_cols: list[str], b: str, b_cols: list[str]) -> sql.Composable:
    return sql.SQL(" AND ").join(
        sql.SQL("{} = {}").format(_col(a, x), _col(b, y))
        for x, y in zip(a_cols, b_cols, strict=True)
    )


def _when(alias: str, when: dict[str, str]) -> sql.Composable:
    """`` AND alias.col = 'value'`` for each condition of a declared reference."""
    return sql.SQL("").join(
        sql.SQL(" AND {} = {}").format(_col(alias, k), sql.Literal(v)) for k, v in when.items()
    )


def key_identity(alias: str | None, columns: list[str]) -> sql.Composable:
    """A key as an unambiguous text (a JSON array of its values, in primary-key order)."""
    return sql.SQL("jsonb_build_array({})::text").format(_cols(alias, columns))


def key_text(alias: str | None, columns: list[str]) -> sql.Composable:
    """A key as text: one column as itself, several joined by ', '."""
    parts = sql.SQL(", ").join(sql.SQL("{}::text").format(_col(alias, c)) for c in columns)
    return sql.SQL("concat_ws(', ', {})").format(parts)
