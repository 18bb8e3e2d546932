"""Post-load steps: SQL a dataset declares (``manifest.post_load``), run after the rows are in.

Derived data the application keeps (a materialized view, a stats table its background tasks
fill) must agree with the loaded rows. A dataset lists the statements that make it so; the loader
runs them as a ledger phase after the rebuild and ``ANALYZE`` (the steps are queries over the
whole set: the planner needs the statistics), then analyzes what they wrote.

The steps are checked before anything is written (``loader.post_load_sql``: one allow-listed
statement each, run as re-deparsed text).

Each step runs in its own transaction with its ledger row (``seedgen.post_load_steps``), like a
shard: an interrupted step is rolled back by PostgreSQL and ``--resume`` starts at it, a step
that committed never runs twice in a load. A failing step does not undo the load: the rows are
in and the objects rebuilt, so the load stays ``running`` and the error names ``--resume`` (after
fixing the cause) and ``seedgen repair``. Every load of the set runs every step, ``--append``
included, so steps must recompute from the tables as they are (``REFRESH``, or ``DELETE`` then
``INSERT … SELECT``), not add to what an earlier load derived.
"""

from __future__ import annotations

import time

import psycopg
from pglast import ast, parse_sql
from psycopg import sql

from loader import faults, pgtree
from loader.pgtree import Name
from loader.post_load_sql import Step, check, names, written_tables
from loader.session import pg_message
from seedgen.errors import LoadError, SchemaMismatchError
from seedgen.progress import Reporter


class PostLoadError(LoadError):
    """A step failed after the rows were loaded: the load is kept, resumable (not undone)."""


def check_live(cur: psycopg.Cursor, steps: list[Step]) -> None:
    """Before the first write: every view a step refreshes is a materialized view here."""
    for step in steps:
        if step.refreshes is None:
            continue
        row = cur.execute(
            "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s",
            step.refreshes,
        ).fetchone()
        if row is None or row[0] != "m":
            what = "does not exist" if row is None else "is not a materialized view"
            raise SchemaMismatchError(
                f"{step.label}: {pgtree.show(step.refreshes)} {what} in this database",
                hint="create it (the app's migrations do) before loading; nothing was written",
            )


def done(cur: psycopg.Cursor, load_id: int) -> set[int]:
    """Steps of this load that committed (a ledger from before steps existed: none)."""
    if cur.execute("SELECT to_regclass('seedgen.post_load_steps')").fetchone() == (None,):
        return set()
    return {
        int(n)
        for (n,) in cur.execute(
            "SELECT step FROM seedgen.post_load_steps WHERE load_id = %s", (load_id,)
        )
    }


def run(
    conn: psycopg.Connection, load_id: int, steps: list[Step], echo: Reporter, set_dir: str
) -> list[dict[str, object]]:
    """Run the steps this load has not committed, each with its ledger row; then ANALYZE what
    they wrote. A failing step raises ``PostLoadError`` and leaves the load resumable.
    Returns what ``--log-json`` reports of each step: number, kind, relations, seconds (or
    ``"done": "before"`` for a step an interrupted run committed)."""
    report: list[dict[str, object]] = []
    cur = conn.cursor()
    with conn.transaction():
        _ensure(cur)
    finished = done(cur, load_id)
    for step in steps:
        if step.number in finished:
            echo(f"  {step.label}: done before the interruption")
            report.append(_fields(step, done="before"))
            continue
        t0 = time.monotonic()
        try:
            with conn.transaction():
                cur.execute(sql.SQL(step.text))  # deparsed from the checked tree
                faults.point("post-load-step")
                cur.execute(
                    "INSERT INTO seedgen.post_load_steps (load_id, step, statement) "
                    "VALUES (%s, %s, %s)",
                    (load_id, step.number, step.text),
                )
        except psycopg.Error as exc:
            raise PostLoadError(
                f"{step.label} failed: {pg_message(exc)}; the rows are loaded, steps before "
                f"it are done, load {load_id} is kept",
                hint=f"fix the cause, then `seedgen load {set_dir} --database-url URL --resume` "
                "runs the steps from this one (`seedgen repair --database-url URL` undoes the "
                "load instead)",
            ) from exc
        seconds = time.monotonic() - t0
        echo(f"  {step.label}: {seconds:.1f}s")
        report.append(_fields(step, seconds=round(seconds, 3)))
    written = sorted({name for step in steps if step.kind != "ANALYZE" for name in step.writes})
    echo.detail(f"  analyzing what the steps wrote: {names(written)}")
    for name in written:
        cur.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(*name)))
    return report


def _fields(step: Step, **more: object) -> dict[str, object]:
    return {"step": step.number, "kind": step.kind, "relations": names(step.writes), **more}


def recompute(cur: psycopg.Cursor, steps: list[Step]) -> None:
    """``seedgen reset``: every step again, in the reset's transaction (no ledger rows: the
    reset commits or rolls back as a whole)."""
    for step in steps:
        cur.execute(sql.SQL(step.text))


def stale(conn: psycopg.Connection, steps: list[Step]) -> list[str]:
    """``seedgen verify``: a problem per relation the steps write whose content differs from
    what the steps compute over the rows now (or why the steps cannot run). The steps run in a
    savepoint that is rolled back (a refresh holds its lock until then); each relation is
    compared by a digest of its rows."""
    names = sorted({name for step in steps if step.kind != "ANALYZE" for name in step.writes})
    cur = conn.cursor()
    try:
        with conn.transaction(force_rollback=True):
            before = {name: _digest(cur, name) for name in names}
            for step in steps:
                cur.execute(sql.SQL(step.text))
            after = {name: _digest(cur, name) for name in names}
    except psycopg.Error as exc:
        return [f"the set's post-load steps fail here: {pg_message(exc)}"]
    return [
        f"{pgtree.show(name)}: not what the set's post-load steps compute from the rows"
        for name in names
        if before[name] != after[name]
    ]


def _digest(cur: psycopg.Cursor, name: Name) -> str:
    query = sql.SQL(
        "SELECT count(*) || ':' || "
        "coalesce(md5(string_agg(r::text, E'\\n' ORDER BY r::text)), '') FROM {} AS r"
    ).format(sql.Identifier(*name))
    row = cur.execute(query).fetchone()
    return str(row[0]) if row else ""


def refresh_again(cur: psycopg.Cursor, load_id: int) -> list[str]:
    """``seedgen repair`` (which has no set to read): the views this load's committed steps
    refreshed, refreshed again over what is left. Only ``REFRESH`` statements are taken from
    the ledger (re-parsed, whatever else it holds); a view dropped since is skipped. The tables
    the steps wrote are the set's, which the repair empties anyway."""
    refreshed = []
    texts = [t for (t,) in cur.execute(_RECORDED, (load_id,))] if done(cur, load_id) else []
    for text in texts:
        stmt = parse_sql(text)[0].stmt
        if not isinstance(stmt, ast.RefreshMatViewStmt):
            continue
        name = pgtree.name(stmt.relation)
        exists = cur.execute("SELECT to_regclass(%s)", (pgtree.show(name),)).fetchone()
        if exists and exists[0] is not None:
            cur.execute(sql.SQL("REFRESH MATERIALIZED VIEW {}").format(sql.Identifier(*name)))
            refreshed.append(pgtree.show(name))
    return refreshed


_RECORDED = "SELECT statement FROM seedgen.post_load_steps WHERE load_id = %s ORDER BY step"


def _ensure(cur: psycopg.Cursor) -> None:
    cur.execute(
        """CREATE TABLE IF NOT EXISTS seedgen.post_load_steps (
            load_id bigint NOT NULL REFERENCES seedgen.loads (id),
            step integer NOT NULL,
            statement text NOT NULL,
            ran_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (load_id, step)
        )"""
    )


def not_derived(busy: list[str], steps: list[Step]) -> list[str]:
    """Non-empty tables that a load refuses: a table the steps write holds their rows from an
    earlier load of some set, which the steps replace (they recompute), so it may."""
    return [name for name in busy if name not in written_tables(steps)]


def show(steps: list[Step], echo: Reporter) -> None:
    """``--dry-run``: every step as it would run."""
    for step in steps:
        echo(f"  would run post-load step {step.number}: {step.text}")


__all__ = ["PostLoadError", "Step", "check", "check_live", "run", "show", "written_tables"]
