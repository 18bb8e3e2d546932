"""``seedgen repair``: bring an unfinished load's database to a state a finished command leaves.

An **initial** load starts on empty tables (``seedgen load`` refuses others), so repairing one
*undoes* it: in one transaction every row of the set's tables is deleted, children first, every
object the load dropped is rebuilt and checked (``loader.restore``), and the load is marked
``rolled_back``. The database is then as it was before the load, and ``seedgen load SET`` (or
``--force``) starts afresh; ``--resume`` says there is nothing to resume and names that command.
A materialized view one of its post-load steps refreshed is refreshed again over the emptied
tables (``loader.post_load.refresh_again``).
Restoring the objects over the committed rows cannot work in general: shards COPY in parallel,
biggest first, so a child's rows are often committed before its parents' and its foreign keys
could not be validated (the repair would fail, and so would every retry).

An **append** merges table by table, parents first, each table complete in its own transaction,
so the rows it merged satisfy every foreign key: repairing it keeps them (``seedgen reset SET
--confirm`` removes them), drops its staging tables (rows staged but not merged were never in
the user's tables), rebuilds the objects, moves the sequences past the kept keys and marks it
``repaired``.

Either way repair succeeds only if every saved object is then present, valid and the same as
saved (``loader.restore.require``); otherwise nothing of it is kept and the error names the
object.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from loader import append_tables, catalog, ledger, ledger_progress, post_load
from loader.append_plan import TablePlan
from loader.restore import drop_saved, restore, serial
from loader.session import connect, lock
from loader.target import parse_target
from seedgen.progress import Reporter, Write, as_reporter


def repair(
    url: str,
    *,
    allow_any_name: bool = False,
    allow_remote: bool = False,
    echo: Reporter | Write | None = None,
) -> int:
    """Undo an unfinished initial load, or close an unfinished append; return the number of
    objects that had to be rebuilt."""
    echo = as_reporter(echo)
    target = parse_target(url, allow_any_name=allow_any_name, allow_remote=allow_remote)
    with connect(target) as ctl:
        lock(ctl)
        open_load = ledger.running(ctl.cursor())
        if open_load is None:
            echo.summary("nothing to repair: no unfinished load in this database")
            return 0
        if open_load.mode == "append":
            return _close_append(ctl, open_load, echo)
        return _undo_initial(ctl, open_load, echo)


def clear_tables(cur: psycopg.Cursor, load_id: int, tables: list[tuple[str, str]]) -> int:
    """Delete every row of ``tables`` (given parents first), children first, with none of the
    load's saved objects in place (``drop_saved``; ``restore`` puts them back); rows deleted."""
    drop_saved(cur, load_id)
    deleted = 0
    for table in reversed(tables):
        cur.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(*table)))
        deleted += max(cur.rowcount, 0)
    return deleted


def _undo_initial(ctl: psycopg.Connection, load: ledger.LoadRow, echo: Reporter) -> int:
    with ctl.transaction():
        cur = ctl.cursor()
        removed = clear_tables(cur, load.id, ledger.set_tables(cur, load.id))
        post_load.refresh_again(cur, load.id)  # views its steps refreshed: over the empty tables
        ledger_progress.forget_shards(cur, load.id)
        restored = restore(serial(ctl), ctl, load.id, {})
        ledger.finish(cur, load.id, "rolled_back")
    echo.summary(
        f"repaired load {load.id}: undone, {removed:,} row(s) it had committed removed and "
        f"{restored} object(s) rebuilt; every saved object is back as saved and the database "
        f"is as it was before the load. Load the set with `seedgen load {load.set_dir} "
        "--database-url URL`",
        kind="repair",
        load_id=load.id,
        outcome="undone",
        restored=restored,
        rows_removed=removed,
    )
    return restored


def _close_append(ctl: psycopg.Connection, load: ledger.LoadRow, echo: Reporter) -> int:
    restored = restore(serial(ctl), ctl, load.id, {})
    with ctl.transaction():
        cur = ctl.cursor()
        plans = [TablePlan.from_json(p) for p in ledger.plan(cur, load.id)]
        append_tables.drop_work_tables(cur, load.id, plans, keys=False)
        merged = ledger_progress.merged(cur, load.id)
        rows = sum(inserted for inserted, _ in merged.values())
        # the merged rows stay, so the sequences their keys used move past them, as a finished
        # load's do: the application's next insert must not collide with them
        catalog.reset_sequences(cur, catalog.sequence_uses(cur, ledger.set_tables(cur, load.id)))
        ledger.finish(cur, load.id, "repaired")
    echo.summary(
        f"repaired load {load.id}: {restored} object(s) rebuilt, every saved object is back as "
        f"saved; the {len(merged)} table(s) ({rows:,} rows) it had merged remain "
        f"(`seedgen reset {load.set_dir} --database-url URL --confirm` removes them)",
        kind="repair",
        load_id=load.id,
        outcome="closed",
        restored=restored,
        rows_kept={table: inserted for table, (inserted, _) in merged.items()},
    )
    return restored


__all__ = ["clear_tables", "repair"]
