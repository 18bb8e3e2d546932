"""Which of a reset's tables hold nothing but the set's rows, and removing those by TRUNCATE.

Deleting millions of rows by key costs a join, WAL for every row, index maintenance and an FK
check per referenced row: a reset took three times its load. When a table holds only the rows
this reset removes — its count equals the count of its rows among the staged keys (so no row of
the application's or of another load is there, and an append inserted every row) — a TRUNCATE
removes the same rows in milliseconds. Such tables are truncated together in one statement
(children with parents, so their FKs do not block it), inside the reset's transaction.

TRUNCATE refuses a table another table references by FK unless that one is truncated too; we
never use CASCADE. A referencing table outside the group joins the statement only if it is empty
(truncating an empty table changes no row); one with rows keeps the table it references on the
delete-by-keys path. No TRUNCATE at all if any of those tables has a user ``ON TRUNCATE``
trigger. Every table counted is first locked against writes (``SHARE ROW EXCLUSIVE``), so no row
can arrive between the count and the TRUNCATE.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from loader.reset_keys import Keys
from loader.sqlparts import eq
from seedgen.manifest import TableSpec


@dataclass
class Ownership:
    """Per table being reset: rows it holds among the keys, and whether those are all it holds."""

    matched: dict[str, int] = field(default_factory=dict)
    owned: set[str] = field(default_factory=set)


def measure(
    cur: psycopg.Cursor, tables: list[TableSpec], keys: dict[str, Keys], *, lock: bool
) -> Ownership:
    """Which tables hold nothing but the staged keys' rows (locked first, when ``lock``)."""
    result = Ownership()
    for table in tables:
        live = sql.Identifier(*table.qualified)
        staged = _count(cur, sql.SQL("SELECT count(*) FROM {}").format(keys[table.name].name))
        total = _count(cur, sql.SQL("SELECT count(*) FROM {}").format(live))
        if total == 0 or total > staged:  # empty, or holds rows the keys cannot cover
            continue
        if lock:
            cur.execute(sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(live))
            total = _count(cur, sql.SQL("SELECT count(*) FROM {}").format(live))
        matched = _count(
            cur,
            sql.SQL("SELECT count(*) FROM {} t JOIN {} k ON {}").format(
                live,
                keys[table.name].name,
                eq("t", keys[table.name].columns, "k", keys[table.name].columns),
            ),
        )
        result.matched[table.name] = matched
        if matched == total:
            result.owned.add(table.name)
    return result


@dataclass(frozen=True)
class Truncation:
    """Tables of the set to truncate, and the empty tables that must join the statement."""

    tables: list[TableSpec]
    empty_referrers: list[tuple[str, str]]


def plan(
    cur: psycopg.Cursor, tables: list[TableSpec], owned: set[str], *, lock: bool
) -> Truncation:
    """The largest group of owned tables TRUNCATE can take without CASCADE."""
    oids = {t.name: _oid(cur, t.qualified) for t in tables if t.name in owned}
    group = set(oids)
    while group:
        blocked, extra = _closure(cur, {oids[n]: n for n in group}, lock=lock)
        if not blocked:
            if _truncate_triggers(cur, [oids[n] for n in group] + list(extra)):
                break
            return Truncation([t for t in tables if t.name in group], sorted(extra.values()))
        group -= blocked
    return Truncation([], [])


def truncate(cur: psycopg.Cursor, truncation: Truncation) -> None:
    names = [sql.Identifier(*t.qualified) for t in truncation.tables]
    names += [sql.Identifier(*q) for q in truncation.empty_referrers]
    cur.execute(sql.SQL("TRUNCATE TABLE {} RESTRICT").format(sql.SQL(", ").join(names)))


# ------------------------------------------------------------------------------ helpers

_REFERRERS = """
SELECT DISTINCT c.conrelid, n.nspname, r.relname
FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
JOIN pg_namespace n ON n.oid = r.relnamespace
WHERE c.contype = 'f' AND c.confrelid = ANY(%s::oid[])
"""


def _closure(
    cur: psycopg.Cursor, group: dict[int, str], *, lock: bool
) -> tuple[set[str], dict[int, tuple[str, str]]]:
    """Follow the FKs into each group table, transitively, through tables outside the group.
    Returns the group tables that cannot be truncated (a table on their path holds rows) and
    the empty referencing tables to truncate with the others."""
    blocked: set[str] = set()
    extra: dict[int, tuple[str, str]] = {}
    has_rows: dict[int, bool] = {}
    for oid, name in group.items():
        reached: dict[int, tuple[str, str]] = {}
        frontier = [oid]
        while frontier:
            rows = cur.execute(_REFERRERS, (frontier,)).fetchall()
            frontier = []
            for child, schema, relname in rows:
                if child in group or child in reached:
                    continue
                reached[child] = (schema, relname)
                if child not in has_rows:
                    has_rows[child] = _holds_rows(cur, (schema, relname), lock=lock)
                frontier.append(child)
        if any(has_rows[child] for child in reached):
            blocked.add(name)
        else:
            extra.update(reached)
    return blocked, extra


def _holds_rows(cur: psycopg.Cursor, qualified: tuple[str, str], *, lock: bool) -> bool:
    live = sql.Identifier(*qualified)
    if lock:
        cur.execute(sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(live))
    row = cur.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(live)).fetchone()
    return bool(row and row[0])


def _truncate_triggers(cur: psycopg.Cursor, oids: list[int]) -> bool:
    row = cur.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = ANY(%s::oid[]) "
        "AND NOT tgisinternal AND (tgtype & 32) <> 0)",
        (oids,),
    ).fetchone()
    return bool(row and row[0])


def _oid(cur: psycopg.Cursor, qualified: tuple[str, str]) -> int:
    row = cur.execute(
        "SELECT %s::regclass::oid", (sql.Identifier(*qualified).as_string(cur),)
    ).fetchone()
    assert row is not None
    return int(row[0])


def _count(cur: psycopg.Cursor, query: sql.Composed) -> int:
    row = cur.execute(query).fetchone()
    return int(row[0]) if row else 0
