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

This module is the merge (steps a–d) and its warnings; the plan is made in ``loader.append_plan``,
the work tables and checks 1–2 are ``loader.append_tables``, the SQL pieces ``loader.sqlparts``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from loader import ledger_progress
from loader.append_plan import (
    ForeignKey,
    TablePlan,
    carried_columns,
    points_at,
    referenced_columns,
)
from loader.append_tables import work_table
from loader.sqlparts import aliased, and_when, cols, eq, key_identity, key_text
from seedgen.errors import SchemaMismatchError
from seedgen.manifest import Manifest, TableSpec

SHOW = 20  # conflicting values listed per table and key in a warning


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
    stage, conflict = work_table("stage", load_id, plan), work_table("conflict", load_id, plan)
    live = sql.Identifier(*table.qualified)
    pk = plan.primary_key
    npk = [f"n_{c}" for c in pk]
    carried = carried_columns(manifest, plans, plan)  # what children's mappings need, kept logged
    ncarried = [f"n_{c}" for c in carried]
    unseen = sql.SQL("NOT EXISTS (SELECT 1 FROM {} c WHERE {})").format(
        conflict, eq("c", npk, "s", pk)
    )
    parents = _parent_maps(load_id, manifest, plans, plan)
    # a. remaps first (they may change key columns), then cascades on the final values
    referenced = referenced_columns(manifest, plans, plan)
    rewritten: set[str] = set()
    for fk, mapping in parents:
        fk_cols = fk.columns
        n_cols = [f"n_{c}" for c in fk.parent_columns]
        e_cols = [f"e_{c}" for c in fk.parent_columns]
        cur.execute(
            sql.SQL(
                "UPDATE {s} s SET {set} FROM ({m}) m WHERE {match}{when} "
                "AND m.action IN ('remap', 'present') AND ({n}) IS DISTINCT FROM ({e})"
            ).format(
                when=and_when("s", fk.when),
                s=stage,
                set=sql.SQL(", ").join(
                    sql.SQL("{} = m.{}").format(sql.Identifier(c), sql.Identifier(e))
                    for c, e in zip(fk_cols, e_cols, strict=True)
                ),
                m=mapping,
                match=eq("s", fk_cols, "m", n_cols),
                n=cols("m", n_cols),
                e=cols("m", e_cols),
            )
        )
        if cur.rowcount:
            rewritten |= set(fk_cols)
        if cur.rowcount and referenced & set(fk_cols):
            raise SchemaMismatchError(
                f"{table.name}: {cur.rowcount:,} row(s) had {', '.join(fk_cols)} rewritten by "
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
                when=and_when("s", fk.when),
                c=conflict,
                npk=cols(None, ncarried),
                spk=cols("s", carried),
                v=key_text("s", fk.columns),
                s=stage,
                m=mapping,
                match=eq("s", fk.columns, "m", n_cols),
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
                npk=cols(None, ncarried),
                epk=cols(None, [f"e_{c}" for c in pk]),
                spk=cols("s", carried),
                tpk=cols("t", pk),
                v=key_text("s", columns),
                s=stage,
                t=live,
                match=eq("s", columns, "t", columns),
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
            cols=cols(None, names),
            scols=cols("s", names),
            s=stage,
            unseen=unseen,
            pk=cols(None, pk),
            k=work_table("keys", load_id, plan),
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
    ledger_progress.mark_merged(cur, load_id, table.name, inserted, counts)
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
            if not points_at(fk, parent_table, parent) or parent.position >= plan.position:
                continue
            pk, pcols = parent.primary_key, fk.parent_columns
            mapping = sql.SQL(
                "SELECT {n}, {e}, c.seedgen_action AS action FROM {c} c LEFT JOIN {t} pt ON {m}"
            ).format(
                n=cols("c", [f"n_{c}" for c in pcols]),
                e=aliased("pt", pcols, "e_"),
                c=work_table("conflict", load_id, parent),
                t=sql.Identifier(*parent_table.qualified),
                m=eq("pt", pk, "c", [f"e_{c}" for c in pk]),
            )
            out.append((fk, mapping))
    return out


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
