"""``seedgen load``: verify, drop what slows COPY, COPY every shard, rebuild, reset, analyze.

The whole load runs in ONE transaction. PostgreSQL's DDL is transactional, so if anything fails
(a COPY, an index rebuild, a count check, Ctrl-C) the rollback restores every dropped index,
constraint and trigger and removes every copied row: the database is exactly as it was. The only
non-transactional step, moving sequences forward, runs last, just before COMMIT.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import psycopg.conninfo
from psycopg import sql

from loader import catalog
from loader.copy import copy_shard
from loader.target import Target, parse_target
from loader.verify import non_empty_tables, verify_live, verify_set
from seedgen.errors import LoadError, SchemaMismatchError, SeedgenError
from seedgen.manifest import Manifest, TableSpec

Echo = Callable[[str], None]


@dataclass(frozen=True)
class LoadOptions:
    create_schema: bool = False
    create_database: bool = False
    dry_run: bool = False
    allow_any_name: bool = False
    allow_remote: bool = False
    maintenance_work_mem: str = "512MB"


@dataclass
class LoadReport:
    rows: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0
    snapshot: catalog.Snapshot | None = None
    sequences: list[tuple[str, int]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def load_set(
    set_dir: Path, url: str, options: LoadOptions = LoadOptions(), echo: Echo = print
) -> LoadReport:
    target = parse_target(
        url, allow_any_name=options.allow_any_name, allow_remote=options.allow_remote
    )
    manifest = verify_set(set_dir)
    echo(
        f"verified {set_dir}: {len(manifest.tables)} tables, {manifest.total_rows:,} rows, "
        f"{sum(len(t.shards) for t in manifest.tables)} shards (sha256 ok)"
    )
    report = LoadReport(rows={t.name: 0 for t in manifest.tables})
    started = time.monotonic()
    if options.create_database and not options.dry_run:
        _create_database(target, echo)
    try:
        with _connect(target) as conn:
            _run(conn, set_dir, manifest, options, report, echo)
    except BaseException as exc:
        report.elapsed = time.monotonic() - started
        _summary(report, echo, failed=True)
        if isinstance(exc, SeedgenError | KeyboardInterrupt):
            raise
        if isinstance(exc, psycopg.Error):
            raise LoadError(
                f"load failed: {_pg_message(exc)}; rolled back, the database is as it was "
                f"before the load",
                hint="fix the cause and run the same command again",
            ) from None
        raise
    report.elapsed = time.monotonic() - started
    _summary(report, echo, failed=False, dry_run=options.dry_run)
    return report


def _create_database(target: Target, echo: Echo) -> None:
    params = psycopg.conninfo.conninfo_to_dict(target.conninfo)
    params["dbname"] = "postgres"
    admin = psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in params.items()})
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (target.dbname,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.dbname)))
                echo(f"created database {target.dbname}")
    except psycopg.Error as exc:
        raise LoadError(f"cannot create database {target.dbname}: {_pg_message(exc)}") from None


def _connect(target: Target) -> psycopg.Connection:
    try:
        return psycopg.connect(target.conninfo, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise LoadError(
            f"cannot connect to {target}: {_pg_message(exc)}",
            hint="check the URL and that the server is running",
        ) from None


def _run(
    conn: psycopg.Connection,
    set_dir: Path,
    manifest: Manifest,
    options: LoadOptions,
    report: LoadReport,
    echo: Echo,
) -> None:
    cur = conn.cursor()
    _lock(cur)
    cur.execute(
        sql.SQL("SET LOCAL maintenance_work_mem = {}").format(
            sql.Literal(options.maintenance_work_mem)
        )
    )
    _ensure_schema(cur, manifest, options, echo)
    verify_live(cur, manifest)
    busy = non_empty_tables(cur, manifest)
    if busy:
        raise SchemaMismatchError(
            f"target tables already hold rows: {', '.join(busy)}",
            hint="load into empty tables (appending to existing data is not supported yet)",
        )
    tables = [t.qualified for t in manifest.tables]
    snap = catalog.capture(cur, tables)
    report.snapshot = snap
    echo(f"captured {snap.summary()} on {len(tables)} tables")
    drops, rebuilds = catalog.drop_statements(snap), catalog.rebuild_statements(snap)
    if options.dry_run:
        for stmt in drops + rebuilds:
            echo(f"  would run: {stmt.as_string(cur)}")
        conn.rollback()
        echo("dry run: verified, nothing written")
        return
    _timed(report, "drop", lambda: [cur.execute(s) for s in drops])
    _timed(report, "copy", lambda: _copy_all(cur, set_dir, manifest, report, echo))
    echo(f"rebuilding {snap.summary()}")
    _timed(report, "rebuild", lambda: _rebuild(cur, rebuilds, echo))
    _timed(
        report,
        "analyze",
        lambda: [cur.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(*t))) for t in tables],
    )
    _check_counts(cur, manifest)
    report.sequences = catalog.reset_sequences(cur, snap)
    conn.commit()


LOCK_KEY = "seedgen.load"


def _lock(cur: psycopg.Cursor) -> None:
    """One load per database at a time: a transaction-scoped advisory lock."""
    row = cur.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", (LOCK_KEY,)).fetchone()
    if not row or not row[0]:
        raise LoadError(
            "another seedgen load is running on this database (advisory lock held)",
            hint="wait for it to finish, then run this command again",
        )


def _timed(report: LoadReport, step: str, fn: Callable[[], object]) -> None:
    t0 = time.monotonic()
    fn()
    report.timings[step] = time.monotonic() - t0


def _ensure_schema(
    cur: psycopg.Cursor, manifest: Manifest, options: LoadOptions, echo: Echo
) -> None:
    if not options.create_schema:
        return
    existing = {
        name
        for (name,) in cur.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
        )
    }
    missing = [d for d in manifest.ddl if d.table not in existing]
    if not missing:
        return
    for ext in manifest.extensions:
        cur.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(ext)))
    for ddl in missing:
        verb = "would create" if options.dry_run else "creating"
        echo(f"{verb} table {ddl.table} ({len(ddl.statements) - 1} more statements)")
        for statement in ddl.statements:
            cur.execute(sql.SQL(statement))  # compiled from the dataset's models at generation


def _copy_all(
    cur: psycopg.Cursor, set_dir: Path, manifest: Manifest, report: LoadReport, echo: Echo
) -> None:
    for table in manifest.tables:
        for shard in table.shards:

            def on_batch(rows: int, table: TableSpec = table) -> None:
                report.rows[table.name] += rows
                done = report.rows[table.name]
                pct = 100.0 * done / table.rows if table.rows else 100.0
                echo(f"  {table.name}: {done:,}/{table.rows:,} rows ({pct:.1f}%)")

            copy_shard(cur, table, set_dir / shard.file, manifest.format, shard.rows, on_batch)


def _rebuild(cur: psycopg.Cursor, statements: list[sql.Composable], echo: Echo) -> None:
    for stmt in statements:
        try:
            cur.execute(stmt)
        except psycopg.Error as exc:
            raise LoadError(
                f"rebuilding failed: {stmt.as_string(cur)}: {_pg_message(exc)}; rolled back, "
                f"every dropped object is back and no rows were kept",
                hint="fix the data or the object definition, then load again",
            ) from None


def _check_counts(cur: psycopg.Cursor, manifest: Manifest) -> None:
    for table in manifest.tables:
        row = cur.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*table.qualified))
        ).fetchone()
        if row is None or row[0] != table.rows:
            raise LoadError(
                f"table {table.name}: {row[0] if row else '?'} rows after COPY, "
                f"manifest says {table.rows}; rolled back"
            )


def _summary(report: LoadReport, echo: Echo, *, failed: bool, dry_run: bool = False) -> None:
    if dry_run:
        return
    total = sum(report.rows.values())
    head = "load FAILED after" if failed else "loaded"
    if failed:
        echo(f"{head} {report.elapsed:.1f}s; rows copied before the failure (all rolled back):")
    else:
        steps = ", ".join(f"{k} {v:.1f}s" for k, v in report.timings.items())
        echo(f"{head} {total:,} rows in {report.elapsed:.1f}s ({steps})")
    for name, rows in report.rows.items():
        echo(f"  {name:<20} {rows:>12,}")
    for seq, value in report.sequences:
        echo(f"  sequence {seq} set to {value:,}")


def _pg_message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
