"""``seedgen load``: verify, drop what slows COPY, COPY in parallel, rebuild, reset, analyze.

Crash safety comes from the ledger (``loader.ledger``) in the target database:

1. verify the set and the live tables; capture index/constraint/trigger definitions; record the
   load and those definitions in the ledger and COMMIT — before anything is dropped;
2. drop them all in one transaction;
3. COPY shards on ``--jobs`` connections; each shard's COPY and its ledger row commit together;
   as soon as a table's last shard commits, its indexes and unique constraints are built and it
   is analyzed, on the same connections, while other tables are still copied (``loader.schedule``);
4. restore every object still missing (``loader.restore``: the foreign keys and triggers), each
   marked restored in its own transaction;
5. run the dataset's post-load steps (``loader.post_load``: refresh a materialized view, fill
   a stats table), each committed with its ledger row, after every ANALYZE; check counts, move
   sequences past the keys, mark the load complete.

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
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from loader import (
    append_merge,
    append_plan,
    append_tables,
    catalog,
    ddl,
    faults,
    ledger,
    ledger_progress,
    objects,
    post_load,
    schedule,
)
from loader.append_plan import TablePlan
from loader.copy import copy_shard
from loader.pool import Pool, Task
from loader.repair import clear_tables, repair
from loader.restore import require, restore, serial, taken
from loader.session import connect, create_database, lock, pg_message
from loader.setcheck import non_empty_tables, set_rows, verify_live, verify_set
from loader.target import Target, parse_target
from seedgen.errors import LoadError, SchemaMismatchError, SeedgenError
from seedgen.manifest import (
    Manifest,
    ShardSpec,
    TableSpec,
    read_manifest,
    set_identities,
    set_identity,
)
from seedgen.progress import Reporter, as_reporter

Echo = Reporter | Callable[[str], None]


@dataclass(frozen=True)
class LoadOptions:
    create_schema: bool = False
    create_database: bool = False
    dry_run: bool = False
    resume: bool = False
    force: bool = False  # replace this set if the ledger says it is loaded here
    append: bool = False  # load next to existing rows (staging + merge, see loader.append_merge)
    rebuild_ratio: float = 0.3  # append: drop/rebuild a table's indexes if incoming >= ratio × rows
    allow_any_name: bool = False
    allow_remote: bool = False
    jobs: int = 0  # 0 = one per core
    maintenance_work_mem: str = "512MB"
    work_mem: str = "64MB"


@dataclass
class LoadReport:
    rows: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0
    load_id: int | None = None
    rolled_back: bool = False
    snapshot: catalog.Snapshot | None = None
    sequences: list[tuple[str, int]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    # --append: rows inserted per table, rows left out by reason, and the warnings shown
    inserted: dict[str, int] = field(default_factory=dict)
    left_out: dict[str, dict[str, int]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    post_load: list[dict[str, object]] = field(default_factory=list)  # per step run


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
    if _preflight(target, manifest, options):
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
            _summary(report, echo, failed=True)
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
        _summary(report, echo, failed=False)
    return report


class _Load:
    def __init__(
        self,
        ctl: psycopg.Connection,
        target: Target,
        set_dir: Path,
        manifest: Manifest,
        options: LoadOptions,
        report: LoadReport,
        echo: Reporter,
    ) -> None:
        self.ctl, self.target, self.set_dir, self.manifest = ctl, target, set_dir, manifest
        self.options, self.report, self.echo = options, report, echo
        self.checksum = set_identity(manifest)
        self.steps = post_load.check(manifest)
        self.rows = {t.name: t.rows for t in manifest.tables}
        self.append = options.append
        self.plans: list[TablePlan] = []
        self._progress = threading.Lock()

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
                f"interrupted: load {load_id} is resumable. {_ways_out(str(self.set_dir))}"
            )
            raise
        except post_load.PostLoadError:
            raise  # the rows are in: kept for --resume after the cause is fixed, not undone
        except BaseException as exc:
            self._undo(load_id, exc)
            raise

    # -------------------------------------------------------------------- starting points

    def _begin(self, cur: psycopg.Cursor) -> int | None:
        open_load = ledger.running(cur)
        if open_load is not None:
            raise _unfinished(open_load)
        prior = ledger.latest(cur, set_identities(self.manifest))
        if prior is not None:
            raise SchemaMismatchError(
                f"this shard set was already loaded into this database at "
                f"{prior.started_at:%Y-%m-%d %H:%M:%S %Z} (seedgen.loads id {prior.id}, "
                f"{prior.status})",
                hint=f"`seedgen load {self.set_dir} --database-url URL --force` replaces it; "
                f"`seedgen reset {self.set_dir} --database-url URL --confirm` removes it",
            )
        with self.ctl.transaction(force_rollback=self.options.dry_run):
            _ensure_schema(cur, self.manifest, self.options, self.echo)
            verify_live(cur, self.manifest)
            post_load.check_live(cur, self.steps)
            busy = post_load.not_derived(non_empty_tables(cur, self.manifest), self.steps)
            if busy and not self.append:
                raise SchemaMismatchError(
                    f"target tables already hold rows: {', '.join(busy)}" + _whose_rows(cur),
                    hint="pass --append to load next to them (keys are checked, conflicts "
                    "filtered), or load into empty tables",
                )
            snap = self._plan(cur)
            if self.append:
                overlaps, needed = append_tables.key_range_overlaps(cur, self.manifest)
                if overlaps:
                    raise SchemaMismatchError(
                        "the set's reserved key ranges overlap existing rows: "
                        + "; ".join(overlaps),
                        hint=f"regenerate the set with `--key-offset {needed}` (or more); "
                        "nothing was written",
                    )
            if self.options.dry_run:
                for stmt in catalog.drop_statements(snap) + catalog.rebuild_statements(snap):
                    self.echo(f"  would run: {stmt.as_string(cur)}")
                post_load.show(self.steps, self.echo)
                self.echo("dry run: verified, nothing written")
                return None
            load_id = ledger.start(
                cur,
                self.manifest,
                self.checksum,
                str(self.set_dir),
                snap,
                mode="append" if self.append else "initial",
                plan=[p.as_json() for p in self.plans],
            )
            if self.append:
                append_tables.create_work_tables(cur, load_id, self.manifest, self.plans)
        faults.point("after-start")
        return load_id

    def _resumable(self, cur: psycopg.Cursor) -> int:
        open_load = ledger.running(cur)
        if open_load is None:
            raise LoadError(
                "no interrupted load to resume in this database",
                hint=f"run the load without --resume: `seedgen load {self.set_dir} "
                "--database-url URL`",
            )
        if open_load.manifest_sha256 not in set_identities(self.manifest):
            raise LoadError(
                f"the interrupted load (id {open_load.id}) is of another set: {open_load.set_dir}",
                hint=_ways_out(open_load.set_dir),
            )
        self.append = open_load.mode == "append"  # resume it the way it was started
        done = ledger_progress.loaded_shards(cur, open_load.id)
        for (table, _shard), rows in done.items():
            self.report.rows[table] += rows
        self.report.snapshot = ledger_progress.saved(cur, open_load.id)
        self.plans = [TablePlan.from_json(p) for p in ledger.plan(cur, open_load.id)]
        self.echo(f"resuming load {open_load.id}: {len(done)} shard(s) already committed")
        return open_load.id

    def _plan(self, cur: psycopg.Cursor) -> catalog.Snapshot:
        """Capture the objects, choose each table's index strategy, print the plan.

        Returns what will be dropped: everything for tables that are rebuilt; for tables that
        keep their indexes (a small append), only their triggers are disabled.
        """
        snap = catalog.capture(cur, [t.qualified for t in self.manifest.tables])
        per_table: dict[str, int] = {}
        for idx in snap.indexes:
            per_table[idx.table] = per_table.get(idx.table, 0) + 1
        self.plans = append_plan.plan_tables(
            cur,
            self.manifest,
            per_table,
            append=self.append,
            rebuild_ratio=self.options.rebuild_ratio,
        )
        keep = {p.table for p in self.plans if p.strategy == "keep"}
        snap.indexes = [i for i in snap.indexes if i.table not in keep]
        snap.constraints = [c for c in snap.constraints if c.table not in keep]
        for plan in self.plans:
            self.echo(f"plan: {plan.describe(self.append)}")
        self.echo(f"captured {snap.summary()}")
        self.report.snapshot = snap
        return snap

    # -------------------------------------------------------------------- the work

    def _phases(self, load_id: int) -> None:
        settings = _settings(self.options)
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
                tasks = [_analyze(t) for t in self.manifest.tables]
                self._timed("analyze", lambda: pool.run(tasks))
            if self.steps:
                self.echo(f"running {len(self.steps)} post-load step(s)")
                self._timed("post_load", self._post_load(load_id))
            with self.ctl.transaction():
                if self.append:
                    self._check_merged(cur, load_id)
                    append_tables.drop_work_tables(cur, load_id, self.plans, keys=False)
                else:
                    _check_counts(cur, self.manifest, post_load.written_tables(self.steps))
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

    def _append_phases(self, load_id: int, pool: Pool, done: dict[tuple[str, int], int]) -> None:
        """COPY into staging, refuse key collisions, drop, merge table by table (parents first)."""
        cur = self.ctl.cursor()
        merged = ledger_progress.merged(cur, load_id)
        for table, (inserted, left_out) in merged.items():  # merged before an interruption
            result = append_merge.recorded_result(cur, load_id, table, inserted, left_out)
            self._warn(table, result)
        if len(merged) == len(self.manifest.tables):
            self._note_merged(merged)
            return
        self._check_staging(cur, load_id, merged, done)
        if len(done) < sum(len(t.shards) for t in self.manifest.tables):
            self._timed("copy", lambda: pool.run(self._copy_tasks(load_id, done)))
            faults.point("after-copy")
        collisions = append_tables.key_collisions(
            cur, load_id, self.manifest, self.plans, set(merged)
        )
        if collisions:
            raise SchemaMismatchError(
                "keys of the set already exist in the database: " + "; ".join(collisions),
                hint="generate the set with another seed or a larger key_offset; nothing was "
                "written to your tables",
            )
        self._timed("drop", lambda: self._drop(load_id))
        faults.point("after-drop")
        t0 = time.monotonic()
        for spec in self.manifest.tables:
            if spec.name in merged:
                continue
            self.echo(f"  merging {spec.name}: {spec.rows:,} staged rows ...")
            with self.ctl.transaction():
                result = append_merge.merge_table(cur, load_id, self.manifest, self.plans, spec)
                faults.point("merge-table")
            merged[spec.name] = (result.inserted, result.counts)
            self._warn(spec.name, result)
            self.echo(f"  merged {spec.name}: {result.inserted:,} rows inserted")
        self.report.timings["merge"] = time.monotonic() - t0
        self._note_merged(merged)

    def _check_staging(
        self,
        cur: psycopg.Cursor,
        load_id: int,
        merged: dict[str, tuple[int, dict[str, int]]],
        done: dict[tuple[str, int], int],
    ) -> None:
        """Staging tables are UNLOGGED: a server crash empties them although the ledger says
        their shards are in. Re-COPY any unmerged table whose staging is short."""
        for table, plan in zip(self.manifest.tables, self.plans, strict=True):
            if table.name in merged:
                continue
            committed = sum(rows for (name, _), rows in done.items() if name == table.name)
            staged = append_tables.staged_rows(cur, load_id, plan)
            if staged == committed:
                continue
            self.echo.warning(
                f"{table.name}: staging holds {staged:,} rows but {committed:,} were committed "
                "(the server restarted?): copying its shards again"
            )
            with self.ctl.transaction():
                append_tables.truncate_stage(cur, load_id, plan)
                ledger_progress.forget_shards(cur, load_id, table.name)
            for key in [k for k in done if k[0] == table.name]:
                del done[key]
            self.report.rows[table.name] = 0

    def _warn(self, table: str, result: append_merge.MergeResult) -> None:
        for line in append_merge.conflict_warnings(table, result):
            self.report.warnings.append(line)
            self.echo.warning(line)

    def _note_merged(self, merged: dict[str, tuple[int, dict[str, int]]]) -> None:
        for table, (inserted, left_out) in merged.items():
            self.report.inserted[table] = inserted
            self.report.left_out[table] = left_out

    def _check_merged(self, cur: psycopg.Cursor, load_id: int) -> None:
        """Every staged row is either inserted or accounted for by a reason."""
        merged = ledger_progress.merged(cur, load_id)
        for table in self.manifest.tables:
            inserted, left_out = merged.get(table.name, (0, {}))
            if inserted + sum(left_out.values()) != table.rows:
                raise LoadError(
                    f"table {table.name}: {inserted:,} rows inserted and "
                    f"{sum(left_out.values()):,} left out, but the set has {table.rows:,}"
                )

    def _drop(self, load_id: int) -> None:
        with self.ctl.transaction(), self.ctl.cursor() as cur:
            still_there = catalog.present(cur, ledger_progress.saved(cur, load_id))
            present: list[objects.Object] = [*still_there.indexes, *still_there.constraints]
            for obj in present:
                live = objects.state(cur, obj)  # drop only what is ours, never a stranger
                if live is not None and not objects.same(cur, obj, live.printed):
                    raise taken(obj, live.printed)
            for stmt in catalog.drop_statements(still_there):
                self.echo.detail(f"  {stmt.as_string(cur)}")
                cur.execute(stmt)
            ledger_progress.mark_dropped(cur, load_id, still_there)  # the flag never claims them

    def _copy_and_build(self, load_id: int, pool: Pool, done: dict[tuple[str, int], int]) -> None:
        """COPY the shards not yet committed; each table's index builds and ANALYZE start as
        soon as its last shard commits (``loader.schedule``). Timed: "copy" until the last
        COPY commits, "index" for the builds and ANALYZE still running after it."""
        saved = ledger_progress.saved(self.ctl.cursor(), load_id)
        t0 = time.monotonic()
        copied = [t0]

        def copy_task(table: TableSpec, number: int, shard: ShardSpec) -> Task:
            task = self._copy_task(load_id, table, number, shard)

            def timed(conn: psycopg.Connection) -> None:
                task(conn)
                copied.append(time.monotonic())

            return timed

        jobs = schedule.load_jobs(
            self.manifest, saved, load_id, done, copy_task, _analyze, pool.jobs
        )
        try:
            pool.run_graph(jobs)
        finally:
            last_copy = max(copied)
            if last_copy > t0:
                self.report.timings["copy"] = last_copy - t0
            self.report.timings["index"] = time.monotonic() - last_copy

    def _copy_tasks(self, load_id: int, done: dict[tuple[str, int], int]) -> list[Task]:
        tasks = []
        for table in self.manifest.tables:
            for number, shard in enumerate(table.shards):
                if (table.name, number) not in done:
                    tasks.append((shard.bytes, self._copy_task(load_id, table, number, shard)))
        return [task for _, task in sorted(tasks, key=lambda t: -t[0])]

    def _copy_task(self, load_id: int, table: TableSpec, number: int, shard: ShardSpec) -> Task:
        position = self.manifest.tables.index(table)
        into = append_tables.stage_name(load_id, self.plans[position]) if self.append else None

        def task(conn: psycopg.Connection) -> None:
            with conn.transaction(), conn.cursor() as cur:
                copy_shard(
                    cur,
                    table,
                    self.set_dir / shard.file,
                    self.manifest.format,
                    shard.rows,
                    lambda rows, nbytes: self._on_batch(table, rows, nbytes),
                    sha256=shard.sha256,
                    size=shard.bytes,
                    into=into,
                )
                ledger_progress.mark_shard(cur, load_id, table.name, number, shard.rows)
            self.echo.detail(f"  committed {shard.file} ({shard.rows:,} rows)")

        return task

    def _on_batch(self, table: TableSpec, rows: int, nbytes: int) -> None:
        faults.point("copy-batch")
        with self._progress:
            self.report.rows[table.name] += rows
            self.echo.batch(table.name, self.report.rows[table.name], table.rows, nbytes)

    def _post_load(self, load_id: int) -> Callable[[], None]:
        def phase() -> None:
            ran = post_load.run(self.ctl, load_id, self.steps, self.echo, str(self.set_dir))
            self.report.post_load = ran

        return phase

    def _timed(self, step: str, fn: Callable[[], object]) -> None:
        t0 = time.monotonic()
        fn()
        self.report.timings[step] = self.report.timings.get(step, 0.0) + time.monotonic() - t0

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
                    clear_tables(cur, [t.qualified for t in self.manifest.tables])
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


def _analyze(table: TableSpec) -> Task:
    def task(conn: psycopg.Connection) -> None:
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(*table.qualified)))

    return task


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


def _settings(options: LoadOptions) -> dict[str, str]:
    return {
        "maintenance_work_mem": options.maintenance_work_mem,
        "work_mem": options.work_mem,
    }


def _preflight(target: Target, manifest: Manifest, options: LoadOptions) -> bool:
    """The checks that need the database but write nothing, run before anything is written
    (``--force``'s reset included). Returns whether ``--force`` has a load of this set here to
    remove first."""
    with connect(target) as conn:
        cur = conn.cursor()
        with conn.transaction(force_rollback=True):
            for name, value in _settings(options).items():
                try:
                    with conn.transaction():
                        cur.execute(
                            sql.SQL("SET LOCAL {} = {}").format(
                                sql.Identifier(name), sql.Literal(value)
                            )
                        )
                except psycopg.Error as exc:
                    raise LoadError(
                        f"--{name.replace('_', '-')} {value!r}: {pg_message(exc)}",
                        hint="pass a value PostgreSQL accepts (e.g. 512MB); nothing was written",
                    ) from exc
        if not options.force or options.dry_run:
            return False
        entry = ledger.latest(cur, set_identities(manifest))
        open_load = ledger.running(cur)
        if open_load is not None:
            raise _unfinished(open_load)
        if entry is None:  # nothing to replace: the load's own checks follow
            return False
        verify_live(cur, manifest)
        return True


def _ways_out(set_dir: str) -> str:
    return (
        f"Finish it with `seedgen load {set_dir} --database-url URL --resume`, or undo it with "
        "`seedgen repair --database-url URL` (an --append keeps the tables it merged)"
    )


def _unfinished(open_load: ledger.LoadRow) -> LoadError:
    return LoadError(
        f"an interrupted load (id {open_load.id}, set {open_load.set_dir}, started "
        f"{open_load.started_at:%Y-%m-%d %H:%M}) is unfinished in this database",
        hint=_ways_out(open_load.set_dir),
    )


def _whose_rows(cur: psycopg.Cursor) -> str:
    """Which live load of another set put rows there, and how to remove them."""
    other = ledger.latest(cur)
    if other is None:
        return ""
    said = f"; load {other.id} of set {other.set_dir} ({other.status}) is recorded here: "
    try:
        there = other.manifest_sha256 in set_identities(read_manifest(Path(other.set_dir)))
    except SeedgenError:
        there = False
    if there:
        return said + (
            f"`seedgen reset {other.set_dir} --database-url URL --confirm` removes its rows"
        )
    return said + (
        "that directory no longer holds that set (regenerated or moved), so reset cannot find "
        "its rows: empty the tables (or drop this scratch database and load with "
        "--create-database)"
    )


def _ensure_schema(
    cur: psycopg.Cursor, manifest: Manifest, options: LoadOptions, echo: Reporter
) -> None:
    if options.create_schema:  # from the checked, re-deparsed DDL (loader.ddl), never raw text
        ddl.create_missing(cur, manifest, dry_run=options.dry_run, echo=echo)


def _check_counts(cur: psycopg.Cursor, manifest: Manifest, derived: set[str]) -> None:
    """Every table holds the set's rows; ``derived``: tables post-load steps write (not checked)."""
    for table in manifest.tables:
        if table.name in derived:
            continue
        rows = set_rows(cur, manifest, table)
        if rows != table.rows:
            raise LoadError(
                f"table {table.name}: {rows} rows after COPY, manifest says {table.rows}"
            )


def _summary(report: LoadReport, echo: Reporter, *, failed: bool) -> None:
    total = sum(report.rows.values())
    fields = {
        "kind": "load",
        "failed": failed,
        "rolled_back": report.rolled_back,
        "load_id": report.load_id,
        "rows": report.inserted or report.rows,
        "elapsed": round(report.elapsed, 3),
        "timings": {k: round(v, 3) for k, v in report.timings.items()},
        "sequences": dict(report.sequences),
        "left_out": report.left_out,
        "post_load": report.post_load,
    }
    if failed:
        echo.summary(
            f"load FAILED after {report.elapsed:.1f}s; rows copied before the failure:", **fields
        )
    else:
        steps = ", ".join(f"{k} {v:.1f}s" for k, v in report.timings.items())
        if report.inserted:
            total = sum(report.inserted.values())
        echo.summary(f"loaded {total:,} rows in {report.elapsed:.1f}s ({steps})", **fields)
    width = max([20, *(len(name) for name in report.rows)])
    for name, rows in report.rows.items():
        if name in report.inserted:
            left = ", ".join(f"{n:,} {why}" for why, n in sorted(report.left_out[name].items()))
            echo.summary(
                f"  {name:<{width}} {report.inserted[name]:>12,} inserted"
                + (f" (of {rows:,} staged; left out: {left})" if left else "")
            )
        else:
            echo.summary(f"  {name:<{width}} {rows:>12,}")
    for line in report.warnings:
        echo.warning(line)
    for seq, value in report.sequences:
        echo.summary(f"  sequence {seq} set to {value:,}")


__all__ = ["LoadOptions", "LoadReport", "load_set", "repair"]  # repair: see loader.repair
