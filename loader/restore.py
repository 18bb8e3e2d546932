"""Put back what a load dropped, idempotently, and prove it is all back.

What is missing is asked of the catalog, never of the ledger's ``restored`` flag: an object the
catalog does not hold (or holds invalid) is rebuilt from its saved definition, whatever the flag
says (``seedgen repair`` may have rebuilt an object that a resumed load dropped again). An
object that is there must be the saved one (``loader.objects.same``); one that is not (another
object under its name) stops the restore with a message naming it, rather than being kept or
replaced silently.

A load starts a table's index and unique-constraint builds (``table_builds``, the same tasks) as
soon as that table's COPY has committed, and its foreign keys (``table_foreign_keys``) once it
and the tables they reference are built and analyzed; ``restore`` then finds them there and does
the rest.

Order: indexes (parallel, biggest tables first), unique/exclusion constraints (parallel), foreign
keys (added ``NOT VALID`` one by one, which needs no scan, then validated in parallel), triggers
back to their former enable mode. Each object is built and marked restored, with what
PostgreSQL printed for it, in one transaction. At the end every saved object must be present,
valid and the same (``loader.objects.problems``), or ``RestoreError`` says which is not.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

import psycopg
from psycopg import sql

from loader import catalog, faults, ledger, ledger_progress, objects
from loader.pool import Task
from seedgen.errors import LoadError

Runner = Callable[[list[Task]], None]
_AGAIN = "then run `seedgen repair --database-url URL` (or the command that stopped) again"


class RestoreError(LoadError):
    """One object could not be rebuilt, or is not as saved; the message names it."""


def serial(conn: psycopg.Connection) -> Runner:
    def run(tasks: list[Task]) -> None:
        for task in tasks:
            task(conn)

    return run


def restore(run: Runner, ctl: psycopg.Connection, load_id: int, table_rows: dict[str, int]) -> int:
    """Rebuild every saved object of ``load_id`` that is not there as saved; check them all;
    return how many needed work."""
    cur = ctl.cursor()
    ledger.ensure(cur)  # a ledger from an older seedgen gains its ``printed`` column
    saved = ledger_progress.saved(cur, load_id)
    pending = _pending(cur, load_id, saved)
    by_size = sorted(pending.indexes, key=lambda i: -table_rows.get(i.table, 0))
    run([_index_task(load_id, idx) for idx in by_size])
    unique = [c for c in pending.constraints if c.kind != "f"]
    run([_constraint_task(load_id, con) for con in unique])
    fks = [c for c in pending.constraints if c.kind == "f"]
    for con in fks:  # NOT VALID: no scan; serial, as it locks both tables briefly
        with ctl.transaction(), ctl.cursor() as fk_cur:
            _add_not_valid(fk_cur, con)
    run([_constraint_task(load_id, con) for con in fks])
    for trg in pending.triggers:
        with ctl.transaction(), ctl.cursor() as trg_cur:
            if catalog.trigger_enabled(trg_cur, trg) is None:
                raise RestoreError(
                    f"trigger {trg.name} on {trg.schema}.{trg.table} no longer exists",
                    hint=f"create it again as it was, {_AGAIN}",
                )
            _execute(trg_cur, catalog.enable_statement(trg), f"trigger {trg.name}")
            ledger_progress.mark_restored(trg_cur, load_id, trg.schema, trg.table, trg.name)
    require(cur, saved)
    return len(pending.indexes) + len(pending.constraints) + len(pending.triggers)


def _add_not_valid(cur: psycopg.Cursor, con: catalog.Constraint) -> None:
    """Add a missing foreign key ``NOT VALID`` (no scan), unless a partitioned table is at
    either end: such a key takes no ``NOT VALID`` and is added valid by its constraint task."""
    if (
        objects.state(cur, con) is None
        and not _partitioned(cur, con)
        and not _to_partitioned(cur, con)
    ):
        _execute(cur, catalog.add_constraint_statement(con, not_valid=True), con.name)


def table_foreign_keys(
    load_id: int, saved: catalog.Snapshot, schema: str, table: str, adding: threading.Lock
) -> tuple[list[catalog.Constraint], Task | None]:
    """The saved foreign keys of one table and the task that restores them inside a load's job
    graph (``loader.schedule``), where index builds and COPYs of other tables run meanwhile.

    Adding a key locks both of its tables (SHARE ROW EXCLUSIVE), so the adds of all tables'
    tasks take turns (``adding``): two at once could deadlock on a cycle of keys. Each key is
    then validated (a scan that locks only its own table against schema changes) and marked
    restored in its own transaction, as ``restore`` does; ``restore`` later finds them there."""
    fks = [
        con
        for con in saved.constraints
        if con.kind == "f" and (con.schema, con.table) == (schema, table)
    ]
    if not fks:
        return fks, None

    def task(conn: psycopg.Connection) -> None:
        with adding:
            with conn.transaction(), conn.cursor() as cur:
                for con in fks:
                    _add_not_valid(cur, con)
                one_step = [con for con in fks if objects.state(cur, con) is None]
            for con in one_step:  # a partitioned table at an end: added valid, still in turn
                _constraint_task(load_id, con)(conn)
        for con in fks:
            if con not in one_step:
                _constraint_task(load_id, con)(conn)  # VALIDATE: locks only its own table

    return fks, task


def drop_saved(
    cur: psycopg.Cursor, load_id: int, detail: Callable[[str], None] | None = None
) -> None:
    """Drop (triggers: disable) the load's saved objects that are there, ours only (as saved;
    another object under a saved name stops it), marked dropped: the load's drop phase, and an
    undo's before it deletes the rows. An undo meets keys (added while other tables still
    build), which refuse every delete order across a cycle, and re-enabled triggers, which
    would fire on the deletes; ``restore`` puts everything back afterwards."""
    there = catalog.present(cur, ledger_progress.saved(cur, load_id))
    ours: list[objects.Object] = [*there.indexes, *there.constraints]
    for obj in ours:
        live = objects.state(cur, obj)
        if live is not None and not objects.same(cur, obj, live.printed):
            raise taken(obj, live.printed)
    for stmt in catalog.drop_statements(there):
        if detail is not None:
            detail(f"  {stmt.as_string(cur)}")
        cur.execute(stmt)
    ledger_progress.mark_dropped(cur, load_id, there)  # the flag never claims them


def _partitioned(cur: psycopg.Cursor, con: catalog.Constraint) -> bool:
    regclass = sql.Identifier(con.schema, con.table).as_string(cur)
    row = cur.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass", (regclass,))
    found = row.fetchone()
    return bool(found and found[0] == "p")


_REFERENCES = re.compile(
    r'REFERENCES ((?:"(?:[^"]|"")+"|[^\s(."]+)(?:\.(?:"(?:[^"]|"")+"|[^\s(."]+))?)\('
)


def _to_partitioned(cur: psycopg.Cursor, con: catalog.Constraint) -> bool:
    """Whether FK ``con`` references a partitioned table. Such a FK is added valid in one step:
    PostgreSQL 15 gives it one clone per partition, and after ``NOT VALID`` + ``VALIDATE`` the
    clones stay marked not validated (the parent did check every row), which verify and a
    schema comparison would report."""
    match = _REFERENCES.search(con.definition)
    if match is None:
        return False
    row = cur.execute(
        "SELECT relkind = 'p' FROM pg_catalog.pg_class WHERE oid = to_regclass(%s)",
        (match.group(1),),
    ).fetchone()
    return bool(row and row[0])


def table_builds(
    load_id: int, saved: catalog.Snapshot, schema: str, table: str
) -> list[tuple[objects.Object, Task]]:
    """The saved indexes and unique/exclusion constraints of one table, each with the task that
    builds it (idempotent, marked restored in its own transaction, as in ``restore``)."""
    mine: list[tuple[objects.Object, Task]] = [
        (idx, _index_task(load_id, idx))
        for idx in saved.indexes
        if (idx.schema, idx.table) == (schema, table)
    ]
    mine += [
        (con, _constraint_task(load_id, con))
        for con in saved.constraints
        if con.kind != "f" and (con.schema, con.table) == (schema, table)
    ]
    return mine


def require(cur: psycopg.Cursor, saved: catalog.Snapshot) -> None:
    """Raise unless every saved object is present, valid and the same as saved."""
    problems = objects.problems(cur, saved)
    if problems:
        raise RestoreError(
            f"{len(problems)} saved object(s) not back as saved, first: {problems[0]}",
            hint=f"the definitions are in seedgen.saved_objects; fix the cause, {_AGAIN}",
        )


def _pending(cur: psycopg.Cursor, load_id: int, saved: catalog.Snapshot) -> catalog.Snapshot:
    """What the catalog lacks (or holds invalid); objects already there as saved are marked."""
    pending = catalog.Snapshot()
    with cur.connection.transaction():
        saved_objects: list[objects.Object] = [*saved.indexes, *saved.constraints]
        for obj in saved_objects:
            live = objects.state(cur, obj)
            if live is not None and not objects.same(cur, obj, live.printed):
                raise taken(obj, live.printed)
            if live is not None and live.valid:
                ledger_progress.mark_restored(cur, load_id, obj.schema, obj.table, obj.name)
            elif isinstance(obj, catalog.Index):
                pending.indexes.append(obj)
            else:
                pending.constraints.append(obj)
        for trg in saved.triggers:
            if catalog.trigger_enabled(cur, trg) == trg.enabled:
                ledger_progress.mark_restored(cur, load_id, trg.schema, trg.table, trg.name)
            else:
                pending.triggers.append(trg)
    return pending


def taken(obj: objects.Object, printed: str) -> RestoreError:
    """Another object holds a saved object's name: neither keep it nor drop it silently."""
    what = "index" if isinstance(obj, catalog.Index) else f"constraint on {obj.table}"
    drop = (
        f"DROP INDEX {obj.schema}.{obj.name}"
        if isinstance(obj, catalog.Index)
        else f"ALTER TABLE {obj.schema}.{obj.table} DROP CONSTRAINT {obj.name}"
    )
    return RestoreError(
        f"{what} {obj.schema}.{obj.name} exists but is not the one saved: it is `{printed}`, "
        f"saved `{obj.definition}`",
        hint=f"if it is not yours to keep, remove it (`{drop}`), {_AGAIN}",
    )


def _index_task(load_id: int, idx: catalog.Index) -> Task:
    def task(conn: psycopg.Connection) -> None:
        with conn.transaction(), conn.cursor() as cur:
            live = objects.state(cur, idx)
            what = f"index {idx.schema}.{idx.name}"
            if live is None:
                _execute(cur, sql.SQL(catalog.recursive(idx.definition)), what)
            elif not objects.same(cur, idx, live.printed):
                raise taken(idx, live.printed)
            elif not live.valid:
                name = sql.Identifier(idx.schema, idx.name)
                _execute(cur, sql.SQL("REINDEX INDEX {}").format(name), what)
            _mark_built(cur, load_id, idx)
        faults.point("after-index")

    return task


def _constraint_task(load_id: int, con: catalog.Constraint) -> Task:
    def task(conn: psycopg.Connection) -> None:
        with conn.transaction(), conn.cursor() as cur:
            live = objects.state(cur, con)
            what = f"constraint {con.name} on {con.schema}.{con.table}"
            if live is None:
                _execute(cur, catalog.add_constraint_statement(con), what)
            elif not objects.same(cur, con, live.printed):
                raise taken(con, live.printed)
            elif not live.valid:
                _execute(
                    cur,
                    sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(
                        sql.Identifier(con.schema, con.table), sql.Identifier(con.name)
                    ),
                    what,
                )
            _mark_built(cur, load_id, con)
        faults.point("after-constraint")

    return task


def _mark_built(cur: psycopg.Cursor, load_id: int, obj: objects.Object) -> None:
    """Mark it restored, with what PostgreSQL prints for it now that seedgen built it."""
    live = objects.state(cur, obj)
    assert live is not None
    ledger_progress.mark_restored(cur, load_id, obj.schema, obj.table, obj.name, live.printed)


def _execute(cur: psycopg.Cursor, statement: sql.SQL | sql.Composed, what: str) -> None:
    try:
        cur.execute(statement)
    except psycopg.errors.QueryCanceled:
        raise
    except psycopg.Error as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RestoreError(
            f"could not restore {what}: {message}",
            hint=f"its definition is kept in seedgen.saved_objects; fix the cause, {_AGAIN} "
            f"(statement: {statement.as_string(cur)})",
        ) from exc
