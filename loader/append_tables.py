"""``--append``'s work tables in schema ``seedgen`` (``stage_``, ``conflict_`` and
``keys_<load>_<n>``, described in ``loader.append_merge``): their names, creation and removal;
the key checks made before any row reaches the application's tables; and the deletes by a keys
table that an undo and ``seedgen reset`` use.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from loader import catalog
from loader.append_plan import TablePlan, carried_columns
from loader.sqlparts import aliased, cols, eq, key_text
from seedgen.manifest import Manifest, TableSpec


def _work_name(kind: str, load_id: int, plan: TablePlan) -> str:
    return f"{kind}_{load_id}_{plan.position}"


def work_table(kind: str, load_id: int, plan: TablePlan) -> sql.Identifier:
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
                work_table("stage", load_id, plan), cols("t", [c.name for c in table.columns]), live
            )
        )
        cur.execute(
            sql.SQL(
                "CREATE TABLE {} AS SELECT {}, {}, ''::text AS seedgen_action, "
                "''::text AS seedgen_key, ''::text AS seedgen_value FROM {} t WITH NO DATA"
            ).format(
                work_table("conflict", load_id, plan),
                aliased("t", carried_columns(manifest, plans, plan), "n_"),
                aliased("t", pk, "e_"),
                live,
            )
        )
        cur.execute(
            sql.SQL("CREATE TABLE {} AS SELECT {} FROM {} t WITH NO DATA").format(
                work_table("keys", load_id, plan), cols("t", pk), live
            )
        )


def staged_rows(cur: psycopg.Cursor, load_id: int, plan: TablePlan) -> int:
    row = cur.execute(sql.SQL("SELECT count(*) FROM {}").format(work_table("stage", load_id, plan)))
    return int((row.fetchone() or (0,))[0])


def truncate_stage(cur: psycopg.Cursor, load_id: int, plan: TablePlan) -> None:
    cur.execute(sql.SQL("TRUNCATE {}").format(work_table("stage", load_id, plan)))


def drop_work_tables(
    cur: psycopg.Cursor, load_id: int, plans: list[TablePlan], *, keys: bool
) -> None:
    kinds = ("stage", "conflict", "keys") if keys else ("stage", "conflict")
    for plan in plans:
        for kind in kinds:
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(work_table(kind, load_id, plan)))


# ------------------------------------------------------------------------------- checks


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
            s=work_table("stage", load_id, plan),
            t=sql.Identifier(*table.qualified),
            eq=eq("s", pk, "t", pk),
        )
        count, examples = cur.execute(query, (table.shared_keys,)).fetchone() or (0, [])
        if count:
            found.append(
                f"{table.name}: {count:,} key(s) already exist ({', '.join(examples)}"
                f"{', …' if count > len(examples) else ''})"
            )
    return found


# ------------------------------------------------------------------------------- undo and reset


def keys_table(load_id: int, plan: TablePlan) -> sql.Identifier:
    return work_table("keys", load_id, plan)


def recorded(cur: psycopg.Cursor, load_id: int, plan: TablePlan) -> int | None:
    """Rows in a load's keys table (None if it has none)."""
    keys = work_table("keys", load_id, plan)
    if not has_keys(cur, load_id, plan):
        return None
    counted = cur.execute(sql.SQL("SELECT count(*) FROM {}").format(keys)).fetchone()
    return int(counted[0]) if counted else 0


def delete_inserted(
    cur: psycopg.Cursor, load_id: int, table: TableSpec, plan: TablePlan, *, dry_run: bool = False
) -> int:
    """Delete (or count) the rows this load inserted into ``table``, by its keys table."""
    if not has_keys(cur, load_id, plan):
        return 0
    keys = work_table("keys", load_id, plan)
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
    live, match = sql.Identifier(*table), eq("t", columns, "k", columns)
    if dry_run:
        row = cur.execute(
            sql.SQL("SELECT count(*) FROM {} t JOIN {} k ON {}").format(live, keys, match)
        )
        return int((row.fetchone() or (0,))[0])
    cur.execute(sql.SQL("DELETE FROM {} t USING {} k WHERE {}").format(live, keys, match))
    return cur.rowcount
