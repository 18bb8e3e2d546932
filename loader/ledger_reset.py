"""The ledger where loads share tables (``loader.ledger`` describes its tables): what other
loads rely on or added since, which ``seedgen reset`` and ``seedgen verify`` must not count as a
load's own rows, and what a scoped reset has already removed.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from loader.catalog import relation_exists


def used_by_others(cur: psycopg.Cursor, load_id: int, table: str) -> dict[int, list[str]]:
    """Keys (``jsonb`` array text) of ``table`` that other loads whose rows remain kept as
    theirs (``present``) or remapped onto, by load."""
    out: dict[int, list[str]] = {}
    for other, key in cur.execute(
        "SELECT DISTINCT c.load_id, c.existing_key FROM seedgen.conflicts c "
        "JOIN seedgen.loads l ON l.id = c.load_id "
        "WHERE c.table_name = %s AND c.load_id <> %s "
        "AND l.status IN ('running', 'complete', 'repaired', 'partially_reset') "
        "AND c.action IN ('present', 'remap') AND c.existing_key IS NOT NULL",
        (table, load_id),
    ):
        out.setdefault(int(other), []).append(key)
    return out


def appended_since(cur: psycopg.Cursor, load_id: int) -> dict[str, int]:
    """Rows per table inserted by live ``--append`` loads that came after ``load_id``."""
    if not relation_exists(cur, "seedgen", "merged_tables"):  # a ledger from before --append
        return {}
    return {
        table: int(rows)
        for table, rows in cur.execute(
            "SELECT m.table_name, sum(m.inserted) FROM seedgen.merged_tables m "
            "JOIN seedgen.loads l ON l.id = m.load_id "
            "WHERE l.id > %s AND l.status IN ('complete', 'running', 'repaired', "
            "'partially_reset') GROUP BY 1",
            (load_id,),
        )
    }


# ------------------------------------------------------------------------ scoped resets
# Kept apart from the DDL above: only ``seedgen reset`` needs them, and a ledger written before
# they existed is upgraded the first time a reset runs (in the reset's own transaction).

_STATUSES = ("running", "complete", "rolled_back", "repaired", "reset", "partially_reset")


def ensure_reset_tables(cur: psycopg.Cursor) -> None:
    """``seedgen.reset_tables`` and the ``partially_reset`` status (call after ``ensure``)."""
    cur.execute(
        """CREATE TABLE IF NOT EXISTS seedgen.reset_tables (
            load_id bigint NOT NULL REFERENCES seedgen.loads (id),
            table_name text NOT NULL,
            rows bigint NOT NULL,
            how text NOT NULL CHECK (how IN ('delete', 'truncate')),
            reset_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (load_id, table_name)
        )"""
    )
    check = cur.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'seedgen.loads'::regclass AND conname = 'loads_status_check'"
    ).fetchone()
    if check is None or "partially_reset" not in check[0]:
        cur.execute(
            sql.SQL(
                "ALTER TABLE seedgen.loads DROP CONSTRAINT IF EXISTS loads_status_check, "
                "ADD CONSTRAINT loads_status_check CHECK (status IN ({}))"
            ).format(sql.SQL(", ").join(sql.Literal(s) for s in _STATUSES))
        )


def tables_reset(cur: psycopg.Cursor, load_id: int) -> dict[str, int]:
    """Tables a scoped reset has already emptied of the load's rows, with the rows it removed."""
    if not relation_exists(cur, "seedgen", "reset_tables"):
        return {}
    return {
        table: int(rows)
        for table, rows in cur.execute(
            "SELECT table_name, rows FROM seedgen.reset_tables WHERE load_id = %s", (load_id,)
        )
    }


def mark_tables_reset(
    cur: psycopg.Cursor, load_id: int, removed: dict[str, tuple[int, str]]
) -> None:
    """Record the tables a reset emptied of the load's rows: rows removed and how."""
    for table, (rows, how) in removed.items():
        cur.execute(
            "INSERT INTO seedgen.reset_tables (load_id, table_name, rows, how) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (load_id, table_name) DO UPDATE "
            "SET rows = seedgen.reset_tables.rows + excluded.rows, how = excluded.how, "
            "reset_at = now()",
            (load_id, table, rows, how),
        )
