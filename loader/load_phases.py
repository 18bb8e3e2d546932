"""The work of a load, between its ledger row and its last checks.

An initial load drops the saved objects and COPYs the shards; each table's indexes are built and
it is analyzed as soon as its last shard commits (``loader.schedule``). An ``--append`` COPYs
into staging, refuses key collisions, drops what its plan rebuilds and merges table by table,
parents first (``loader.append_merge``). Each step commits with its ledger row
(``loader.ledger_progress``): ``--resume`` skips what is done.
"""

from __future__ import annotations

import time

import psycopg
from psycopg import sql

from loader import (
    append_merge,
    append_tables,
    faults,
    ledger_progress,
    post_load,
    schedule,
)
from loader.copy import copy_shard
from loader.load_state import LoadState
from loader.pool import Pool, Task
from loader.restore import drop_saved
from loader.setcheck import set_rows
from seedgen.errors import LoadError, SchemaMismatchError
from seedgen.manifest import Manifest, ShardSpec, TableSpec


class Phases(LoadState):
    """Drop, COPY and build (an initial load); staging, checks and merge (``--append``)."""

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
            drop_saved(cur, load_id, self.echo.detail)

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

        derived = post_load.written_tables(self.steps)

        def count(table: TableSpec) -> Task:
            return lambda conn: check_counts(conn.cursor(), self.manifest, derived, [table])

        jobs = schedule.load_jobs(
            self.manifest, saved, load_id, done, copy_task, analyze_task, pool.jobs, count
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


def analyze_task(table: TableSpec) -> Task:
    def task(conn: psycopg.Connection) -> None:
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(*table.qualified)))

    return task


def check_counts(
    cur: psycopg.Cursor, manifest: Manifest, derived: set[str], tables: list[TableSpec]
) -> None:
    """Each of ``tables`` holds the set's rows (counted in the job graph once every COPY has
    committed); ``derived``: tables post-load steps write (not checked)."""
    for table in tables:
        if table.name in derived:
            continue
        rows = set_rows(cur, manifest, table)
        if rows != table.rows:
            raise LoadError(
                f"table {table.name}: {rows} rows after COPY, manifest says {table.rows}"
            )
