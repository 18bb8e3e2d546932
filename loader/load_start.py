"""Where a load starts: a new load (refusals, the schema, the live tables, the plan, the
ledger row and, with ``--append``, the work tables) or an interrupted one (``--resume``); and the
checks ``load_set`` makes before the first write, ``--force``'s reset included (``preflight``).
"""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql

from loader import (
    append_plan,
    append_tables,
    catalog,
    ddl,
    faults,
    ledger,
    ledger_progress,
    post_load,
)
from loader.append_plan import TablePlan
from loader.load_state import LoadOptions, LoadState, session_settings
from loader.session import connect, pg_message
from loader.setcheck import non_empty_tables, verify_live
from loader.target import Target
from seedgen.errors import LoadError, SchemaMismatchError, SeedgenError
from seedgen.manifest import Manifest, read_manifest, set_identities
from seedgen.progress import Reporter


class Start(LoadState):
    """A load's first phase: a new load's ledger row, or the interrupted load's."""

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
                hint=ways_out(open_load.set_dir),
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


def preflight(target: Target, manifest: Manifest, options: LoadOptions) -> bool:
    """The checks that need the database but write nothing, run before anything is written
    (``--force``'s reset included). Returns whether ``--force`` has a load of this set here to
    remove first."""
    with connect(target) as conn:
        cur = conn.cursor()
        with conn.transaction(force_rollback=True):
            for name, value in session_settings(options).items():
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


def ways_out(set_dir: str) -> str:
    return (
        f"Finish it with `seedgen load {set_dir} --database-url URL --resume`, or undo it with "
        "`seedgen repair --database-url URL` (an --append keeps the tables it merged)"
    )


def _unfinished(open_load: ledger.LoadRow) -> LoadError:
    return LoadError(
        f"an interrupted load (id {open_load.id}, set {open_load.set_dir}, started "
        f"{open_load.started_at:%Y-%m-%d %H:%M}) is unfinished in this database",
        hint=ways_out(open_load.set_dir),
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
