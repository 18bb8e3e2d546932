"""``seedgen reset``: remove exactly the rows a shard set loaded, in FK-safe order.

For an initial load the set's own shards say which rows those are: each table's primary-key
columns are read from its shards and COPYed into a temporary table. For an ``--append`` load the
keys it recorded as inserted are used instead (its remapped references and left-out rows make the
shards' keys inexact). Rows that another live load kept as its own (a shared admin user, a shared
tag: ``seedgen.conflicts``) are never deleted. Scopes follow the FK graph inside the set:
``facts`` are the tables no other table of the set references (the leaves: jobs, links, sales…),
``dimensions`` the rest.

Every refusal comes before the first delete (``loader.reset_guard``): from the ledger alone,
then with the keys staged, any row that would be left referencing a deleted one. Tables that hold
nothing but the set's rows are truncated together, the others deleted from by key, children
before parents (``loader.reset_fast``), all in one transaction with the ledger's update. The
ledger records each table reset (``seedgen.reset_tables``): the load is ``partially_reset``
until the last of its tables is, then ``reset``, so the set can be loaded again. Counts are
printed after the commit; a database error is rolled back and reported, with nothing deleted.

The set's post-load steps (``loader.post_load``) run again in the same transaction, after the
deletes: they recompute derived data from the tables as they are, so a refreshed materialized
view or a stats table the steps filled no longer counts the removed rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import psycopg

from loader import append_tables, faults, ledger, ledger_reset, post_load, reset_fast, reset_guard
from loader.append_plan import TablePlan
from loader.reset_keys import Keys, keep_shared, stage_keys
from loader.session import connect, lock, pg_message
from loader.setcheck import verify_set
from loader.target import parse_target
from seedgen.errors import LoadError, SafetyError
from seedgen.manifest import Manifest, TableSpec, set_identities
from seedgen.progress import Reporter, Write, as_reporter

Scope = Literal["all", "facts", "dimensions"]


def scoped_tables(manifest: Manifest, scope: Scope) -> list[TableSpec]:
    referenced = {parent for t in manifest.tables for parent in t.depends_on} | {
        ref.table for t in manifest.tables for ref in t.references
    }
    if scope == "facts":
        return [t for t in manifest.tables if t.name not in referenced]
    if scope == "dimensions":
        return [t for t in manifest.tables if t.name in referenced]
    return list(manifest.tables)


@dataclass
class _Outcome:
    load_id: int
    counts: dict[str, int] = field(default_factory=dict)
    truncated: set[str] = field(default_factory=set)
    empty_referrers: list[str] = field(default_factory=list)  # truncated along, being empty
    kept: dict[str, int] = field(default_factory=dict)
    remaining: list[str] = field(default_factory=list)  # tables still holding the load's rows


def reset_set(
    set_dir: Path,
    url: str,
    *,
    confirm: bool = False,
    dry_run: bool = False,
    scope: Scope = "all",
    allow_any_name: bool = False,
    allow_remote: bool = False,
    echo: Reporter | Write | None = None,
) -> dict[str, int]:
    """Delete (or, with ``dry_run``, count) the set's rows; return rows per table."""
    echo = as_reporter(echo)
    if not confirm and not dry_run:
        raise SafetyError(
            "reset deletes rows; refusing without --confirm",
            hint="add --confirm, or --dry-run to see how many rows it would delete",
        )
    target = parse_target(url, allow_any_name=allow_any_name, allow_remote=allow_remote)
    manifest = verify_set(set_dir)
    with connect(target) as ctl:
        lock(ctl)
        try:
            outcome = _Reset(ctl, set_dir, manifest, scope, dry_run).run(target.dbname)
        except psycopg.Error as exc:  # undone by the transaction; bugs keep their traceback
            raise LoadError(
                f"reset failed: {pg_message(exc)}; rolled back, nothing was deleted",
                hint=f"fix the cause and run the same command again (`seedgen reset {set_dir} "
                "--database-url URL --dry-run` shows what it would delete)",
            ) from None
    _report(outcome, manifest, set_dir, scope, dry_run, echo)
    return outcome.counts


class _Reset:
    def __init__(
        self,
        ctl: psycopg.Connection,
        set_dir: Path,
        manifest: Manifest,
        scope: Scope,
        dry_run: bool,
    ) -> None:
        self.ctl, self.set_dir, self.manifest = ctl, set_dir, manifest
        self.scope, self.dry_run = scope, dry_run
        # a table the set puts no rows in has nothing to remove (a partitioned parent whose
        # rows are its partitions', with no primary key of its own, is one)
        self.tables = [t for t in scoped_tables(manifest, scope) if t.rows]
        self.steps = post_load.check(manifest)  # refused before anything is deleted

    def run(self, dbname: str) -> _Outcome:
        cur = self.ctl.cursor()
        entry = ledger.latest(cur, set_identities(self.manifest))
        if entry is None:
            raise reset_guard.not_loaded(cur, self.set_dir, dbname)
        if entry.status == "running":
            raise reset_guard.unfinished(entry, self.set_dir)
        done = ledger_reset.tables_reset(cur, entry.id)
        reset_guard.refuse_out_of_order(self.manifest, self.tables, done, self.set_dir)
        outcome = _Outcome(entry.id)
        with self.ctl.transaction(force_rollback=self.dry_run):
            cur = self.ctl.cursor()
            ledger.ensure(cur)
            ledger_reset.ensure_reset_tables(cur)
            cur.execute("SET LOCAL work_mem = '256MB'")  # joins of millions of keys: no spill
            plans = (
                {p["table"]: TablePlan.from_json(p) for p in ledger.plan(cur, entry.id)}
                if entry.mode == "append"
                else {}
            )
            self._remove(cur, entry.id, plans, outcome)
            if not self.dry_run:
                post_load.recompute(cur, self.steps)
                self._record(cur, entry.id, plans, done, outcome)
        return outcome

    def _remove(
        self, cur: psycopg.Cursor, load_id: int, plans: dict[str, TablePlan], out: _Outcome
    ) -> None:
        """Stage keys, refuse what would dangle, then truncate or delete: nothing before the
        last check."""
        keys: dict[str, Keys] = {}
        for table in self.tables:
            keys[table.name] = stage_keys(
                cur, self.set_dir, self.manifest, table, load_id, plans.get(table.name)
            )
            out.kept[table.name] = keep_shared(cur, load_id, table, keys[table.name])
        owning = reset_fast.measure(cur, self.tables, keys, lock=not self.dry_run)
        reset_guard.refuse_references(cur, self.manifest, keys, owning.owned, self.set_dir)
        fast = reset_fast.plan(cur, self.tables, owning.owned, lock=not self.dry_run)
        out.truncated = {t.name for t in fast.tables}
        out.empty_referrers = [f"{schema}.{name}" for schema, name in fast.empty_referrers]
        if fast.tables and not self.dry_run:
            reset_fast.truncate(cur, fast)
        for table in reversed(self.tables):
            if table.name in out.truncated:
                out.counts[table.name] = owning.matched[table.name]
            else:
                key = keys[table.name]
                out.counts[table.name] = append_tables.delete_by_keys(
                    cur, table.qualified, key.name, key.columns, dry_run=self.dry_run
                )
            faults.point("reset-table")

    def _record(
        self,
        cur: psycopg.Cursor,
        load_id: int,
        plans: dict[str, TablePlan],
        done: dict[str, int],
        out: _Outcome,
    ) -> None:
        """Which tables are now free of the load's rows; the load is reset once all are."""
        ledger_reset.mark_tables_reset(
            cur,
            load_id,
            {
                name: (rows, "truncate" if name in out.truncated else "delete")
                for name, rows in out.counts.items()
            },
        )
        cleared = set(done) | set(out.counts)
        out.remaining = [t.name for t in self.manifest.tables if t.rows and t.name not in cleared]
        if out.remaining:
            ledger.finish(cur, load_id, "partially_reset")
            return
        if plans:
            append_tables.drop_work_tables(cur, load_id, list(plans.values()), keys=True)
        ledger.finish(cur, load_id, "reset")


def _report(
    out: _Outcome, manifest: Manifest, set_dir: Path, scope: Scope, dry_run: bool, echo: Reporter
) -> None:
    """Counts, printed once the work is committed (or, in a dry run, rolled back)."""
    verb = "would delete" if dry_run else "deleted"
    width = max([20, *(len(t.name) for t in manifest.tables)])
    for table in reversed(scoped_tables(manifest, scope)):
        how = ""
        if table.name in out.truncated:
            how = f" ({'would TRUNCATE' if dry_run else 'truncated'}: the set owns every row)"
        kept = out.kept.get(table.name, 0)
        note = f" (kept {kept:,} shared with another load)" if kept else ""
        count = out.counts.get(table.name, 0)
        echo.summary(f"  {table.name:<{width}} {verb} {count:>12,} rows{how}{note}")
    echo.summary(
        f"{'dry run: would delete' if dry_run else 'reset: deleted'} "
        f"{sum(out.counts.values()):,} rows of set {manifest.dataset} (seed {manifest.seed}), "
        f"scope {scope}",
        kind="reset",
        load_id=out.load_id,
        rows=out.counts,
        truncated=sorted(out.truncated),
        kept=out.kept,
        scope=scope,
        dry_run=dry_run,
        remaining=list(out.remaining),
    )
    if out.empty_referrers:
        echo.detail(
            f"  TRUNCATE also {'would take' if dry_run else 'took'} the empty tables that "
            f"reference them (it does without CASCADE): {', '.join(out.empty_referrers)}"
        )
    if dry_run:
        return
    if out.remaining:
        echo.summary(
            f"load {out.load_id} is partially reset: {', '.join(out.remaining)} still hold its "
            f"rows; `seedgen reset {set_dir} --database-url URL --confirm` removes them"
        )
    else:
        echo.summary(f"load {out.load_id} is reset: the set can be loaded again")
