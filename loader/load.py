"""``seedgen load``: verify, drop what slows COPY, COPY in parallel, rebuild, reset, analyze.

Crash safety comes from the ledger (``loader.ledger``) in the target database:

1. verify the set and the live tables; capture index/constraint/trigger definitions; record the
   load and those definitions in the ledger and COMMIT — before anything is dropped;
2. drop them all in one transaction;
3. COPY shards on ``--jobs`` connections; each shard's COPY and its ledger row commit together;
   as soon as a table's last shard commits, its indexes and unique constraints are built and it
   is analyzed, on the same connections, while other tables are still copied; then its foreign
   keys are added and validated once the tables they reference are analyzed too; once every
   COPY has committed, each table's rows are counted (``loader.schedule``);
4. restore every object still missing (``loader.restore``: the triggers, and anything a resumed
   load finds missing), each marked restored in its own transaction;
5. run the dataset's post-load steps (``loader.post_load``: refresh a materialized view, fill
   a stats table), each committed with its ledger row, after every ANALYZE; move sequences past
   the keys, mark the load complete.

With ``--append`` (``loader.append_merge``) the shards go to staging tables instead, keys are
checked against the live rows, only the tables on the rebuild strategy lose their indexes, and
each table is merged parents-first in its own transaction; the rest is the same.

Every check that can be made without writing is made before the first write, ``--force``'s
reset included: session settings (``--maintenance-work-mem``, ``--work-mem``) are tried with
``SET LOCAL`` in a rolled-back transaction, and the live tables are verified.

A load is marked ``complete`` only if every saved object is present, valid and the same as its
saved definition (``loader.objects``, the comparison ``seedgen verify`` uses too).

On an error the load is undone (rows removed, every object restored, the ledger says
``rolled_back``): the database is as it was. An error that is not seedgen's own (a bug) is
re-raised unchanged after the undo, with its traceback; a database error is reported as a
``LoadError`` chained to it. If the process dies (SIGKILL, power loss) or is interrupted
(Ctrl-C), the load stays ``running`` and there are two ways out, both printed: ``seedgen load SET
--resume`` finishes it; ``seedgen repair`` undoes an initial load (and closes an append, keeping
the tables it merged: ``loader.repair`` says why). Meanwhile a plain ``load``, ``--force`` and
``reset`` refuse, naming those two commands; after either, the others work.

The phases are ``loader.load_start`` (1), ``loader.load_phases`` (2, 3, the append merge) and
this module (4, 5, the undo); what they share, and the summary, is ``loader.load_state``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg import sql

from loader import append_tables, catalog, ddl, faults, ledger, ledger_progress, post_load
from loader.load_phases import Phases, analyze_task
from loader.load_start import Start, preflight, ways_out
from loader.load_state import LoadOptions, LoadReport, print_summary, session_settings
from loader.pool import Pool
from loader.repair import clear_tables
from loader.restore import require, restore, serial
from loader.session import connect, create_database, lock, pg_message
from loader.setcheck import verify_set
from loader.target import parse_target
from seedgen.errors import LoadError, SeedgenError
from seedgen.progress import Reporter, as_reporter

Echo = Reporter | Callable[[str], None]


def load_set(
    set_dir: Path, url: str, options: LoadOptions = LoadOptions(), echo: Echo | None = None
) -> LoadReport:
    echo = as_reporter(echo)
    target = parse_target(
        url, allow_any_name=options.allow_any_name, allow_remote=options.allow_remote
    )
    manifest = verify_set(set_dir)
    if options.create_schema:  # the set's DDL is checked before anything is written
        ddl.check(manifest)
    post_load.check(manifest)  # so are its post-load steps
    echo(
        f"verified {set_dir}: {len(manifest.tables)} tables, {manifest.total_rows:,} rows, "
        f"{sum(len(t.shards) for t in manifest.tables)} shards (sha256 ok)"
    )
    report = LoadReport(rows={t.name: 0 for t in manifest.tables})
    started = time.monotonic()
    if options.create_database and not options.dry_run and create_database(target):
        echo(f"created database {target.dbname}")
    if preflight(target, manifest, options):
        from loader.reset import reset_set

        echo(f"--force: removing the rows this set loaded into {target.dbname} first")
        reset_set(
            set_dir,
            url,
            confirm=True,
            allow_any_name=options.allow_any_name,
            allow_remote=options.allow_remote,
            echo=echo,
        )
    try:
        with connect(target) as ctl:
            lock(ctl)
            _Load(ctl, target, set_dir, manifest, options, report, echo).run()
    except BaseException as exc:
        report.elapsed = time.monotonic() - started
        if report.load_id is not None:  # a refusal before the load started has nothing to show
            print_summary(report, echo, failed=True)
        ours = isinstance(exc, SeedgenError | psycopg.Error)
        if report.rolled_back and ours:
            what = exc.message if isinstance(exc, SeedgenError) else pg_message(exc)
            raise LoadError(
                f"load failed: {what}; rolled back, the database is as it was before the load"
                + _created(options),
                hint="fix the cause and run the same command again",
            ) from exc
        if isinstance(exc, psycopg.Error):
            raise LoadError(
                f"load failed: {pg_message(exc)}",
                hint="see the lines above for the database's state",
            ) from exc
        raise  # ours as it is; a bug (after the undo, which said so) with its traceback
    report.elapsed = time.monotonic() - started
    if not options.dry_run:
        print_summary(report, echo, failed=False)
    return report


class _Load(Start, Phases):
    """One load: its start (``Start``), its work (``Phases``), its end and its undo."""

    def run(self) -> None:
        cur = self.ctl.cursor()
        if self.options.resume:
            load_id = self._resumable(cur)
        else:
            begun = self._begin(cur)
            if begun is None:
                return
            load_id = begun
        self.report.load_id = load_id
        try:
            self._phases(load_id)
        except KeyboardInterrupt:
            self.echo.summary(
                f"interrupted: load {load_id} is resumable. {ways_out(str(self.set_dir))}"
            )
            raise
        except post_load.PostLoadError:
            raise  # the rows are in: kept for --resume after the cause is fixed, not undone
        except BaseException as exc:
            self._undo(load_id, exc)
            raise

    # -------------------------------------------------------------------- the work

    def _phases(self, load_id: int) -> None:
        settings = session_settings(self.options)
        jobs = self.options.jobs or os.cpu_count() or 1
        pool = Pool(self.target.conninfo, jobs, settings)
        try:
            cur = self.ctl.cursor()
            for name, value in settings.items():
                cur.execute(sql.SQL("SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
            done = ledger_progress.loaded_shards(cur, load_id)
            if self.append:
                self._append_phases(load_id, pool, done)
            else:
                if len(done) < sum(len(t.shards) for t in self.manifest.tables):
                    self._timed("drop", lambda: self._drop(load_id))
                    faults.point("after-drop")
                self._copy_and_build(load_id, pool, done)
                faults.point("after-copy")
            self.echo("rebuilding indexes, constraints, foreign keys and triggers")
            self._timed("rebuild", lambda: restore(pool.run, self.ctl, load_id, self.rows))
            faults.point("after-rebuild")
            if self.append:
                tasks = [analyze_task(t) for t in self.manifest.tables]
                self._timed("analyze", lambda: pool.run(tasks))
            if self.steps:
                self.echo(f"running {len(self.steps)} post-load step(s)")
                self._timed("post_load", self._post_load(load_id))
            with self.ctl.transaction():
                if self.append:
                    self._check_merged(cur, load_id)
                    append_tables.drop_work_tables(cur, load_id, self.plans, keys=False)
                saved = ledger_progress.saved(cur, load_id)
                require(cur, saved)  # never complete unless every object is back as saved
                uses = catalog.sequence_uses(cur, [t.qualified for t in self.manifest.tables])
                self.report.sequences = catalog.reset_sequences(cur, uses)
                faults.point("before-commit")
                ledger.finish(cur, load_id, "complete")
            self.report.snapshot = saved
        finally:
            pool.cancel()
            pool.close()

    def _post_load(self, load_id: int) -> Callable[[], None]:
        def phase() -> None:
            ran = post_load.run(self.ctl, load_id, self.steps, self.echo, str(self.set_dir))
            self.report.post_load = ran

        return phase

    # -------------------------------------------------------------------- failure

    def _undo(self, load_id: int, cause: BaseException) -> None:
        """Remove the rows, restore every object, mark the load rolled back: one transaction."""
        reason = cause.message if isinstance(cause, SeedgenError) else pg_message(cause)
        self.echo.summary(f"error: {reason}; undoing load {load_id}")
        try:
            if self.ctl.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                self.ctl.rollback()
            with self.ctl.transaction():
                cur = self.ctl.cursor()
                if self.append:  # only the rows this load inserted; the rest was there before
                    pairs = list(zip(self.manifest.tables, self.plans, strict=True))
                    for table, plan in reversed(pairs):
                        append_tables.delete_inserted(cur, load_id, table, plan)
                    append_tables.drop_work_tables(cur, load_id, self.plans, keys=True)
                    ledger_progress.forget_merges(cur, load_id)
                else:
                    clear_tables(cur, load_id, [t.qualified for t in self.manifest.tables])
                ledger_progress.forget_shards(cur, load_id)
                restore(serial(self.ctl), self.ctl, load_id, self.rows)
                ledger.finish(cur, load_id, "rolled_back")
            self.report.rolled_back = True
            self.echo.summary(
                "rolled back: rows removed and every dropped object restored; the "
                "database is as it was before the load" + _created(self.options)
            )
        except BaseException as exc:
            raise LoadError(
                f"the load failed ({reason}) and undoing it failed too ({exc})",
                hint="run `seedgen repair --database-url URL` to restore the dropped objects",
            ) from exc


# ------------------------------------------------------------------------ helpers


def _created(options: LoadOptions) -> str:
    """What a rollback keeps: the database and tables the load itself created (empty)."""
    made = [
        flag
        for flag, on in (
            ("--create-database", options.create_database),
            ("--create-schema", options.create_schema),
        )
        if on
    ]
    return f" (except what {' and '.join(made)} created: kept, empty)" if made else ""


# LoadOptions and LoadReport are defined in loader.load_state
__all__ = ["LoadOptions", "LoadReport", "load_set"]
