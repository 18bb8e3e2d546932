"""Put back what a load dropped, idempotently, marking each object restored in the ledger.

Order: indexes (parallel, biggest tables first), unique/exclusion constraints (parallel), foreign
keys (added ``NOT VALID`` one by one, which needs no scan, then validated in parallel), triggers
back to their former enable mode. Each object is restored and marked in one transaction, so a
crash at any point leaves a ledger that says exactly what is still missing; an object that
already exists (a crash after it was built) is just marked.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from psycopg import sql

from loader import catalog, faults, ledger
from loader.pool import Task
from seedgen.errors import LoadError

Runner = Callable[[list[Task]], None]


class RestoreError(LoadError):
    """One object could not be rebuilt; the message names it."""


def serial(conn: psycopg.Connection) -> Runner:
    def run(tasks: list[Task]) -> None:
        for task in tasks:
            task(conn)

    return run


def restore(run: Runner, ctl: psycopg.Connection, load_id: int, table_rows: dict[str, int]) -> int:
    """Restore every object of ``load_id`` not yet restored; return how many were pending."""
    pending = ledger.saved(ctl.cursor(), load_id, pending_only=True)
    by_size = sorted(pending.indexes, key=lambda i: -table_rows.get(i.table, 0))
    run([_index_task(load_id, idx) for idx in by_size])
    unique = [c for c in pending.constraints if c.kind != "f"]
    run([_constraint_task(load_id, con) for con in unique])
    fks = [c for c in pending.constraints if c.kind == "f"]
    for con in fks:  # NOT VALID: no scan; serial, as it locks both tables briefly
        with ctl.transaction(), ctl.cursor() as cur:
            if catalog.constraint_state(cur, con) is None:
                _execute(cur, catalog.add_constraint_statement(con, not_valid=True), con.name)
    run([_constraint_task(load_id, con) for con in fks])
    for trg in pending.triggers:
        with ctl.transaction(), ctl.cursor() as cur:
            if catalog.trigger_enabled(cur, trg) != trg.enabled:
                _execute(cur, catalog.enable_statement(trg), f"trigger {trg.name}")
            ledger.mark_restored(cur, load_id, trg.schema, trg.table, trg.name)
    return len(pending.indexes) + len(pending.constraints) + len(pending.triggers)


def _index_task(load_id: int, idx: catalog.Index) -> Task:
    def task(conn: psycopg.Connection) -> None:
        with conn.transaction(), conn.cursor() as cur:
            if not catalog.index_exists(cur, idx):
                _execute(cur, sql.SQL(idx.definition), f"index {idx.schema}.{idx.name}")
            ledger.mark_restored(cur, load_id, idx.schema, idx.table, idx.name)
        faults.point("after-index")

    return task


def _constraint_task(load_id: int, con: catalog.Constraint) -> Task:
    def task(conn: psycopg.Connection) -> None:
        with conn.transaction(), conn.cursor() as cur:
            state = catalog.constraint_state(cur, con)
            what = f"constraint {con.name} on {con.schema}.{con.table}"
            if state is None:
                _execute(cur, catalog.add_constraint_statement(con), what)
            elif state is False:
                _execute(
                    cur,
                    sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(
                        sql.Identifier(con.schema, con.table), sql.Identifier(con.name)
                    ),
                    what,
                )
            ledger.mark_restored(cur, load_id, con.schema, con.table, con.name)
        faults.point("after-constraint")

    return task


def _execute(cur: psycopg.Cursor, statement: sql.Composable, what: str) -> None:
    try:
        cur.execute(statement)
    except psycopg.errors.QueryCanceled:
        raise
    except psycopg.Error as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RestoreError(
            f"could not restore {what}: {message}",
            hint=f"its definition is kept in seedgen.saved_objects; fix the cause, then run "
            f"`seedgen repair` (statement: {statement.as_string(cur)})",
        ) from None
