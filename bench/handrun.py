"""The load's physical limits: the same CSV set loaded by hand with ``psql``, serially or 2-way.

Both start from a fresh database with the objects seedgen drops already dropped (untimed), and
run the statements seedgen's restore runs (``catalog.rebuild_statements``), so the work is the
same; neither verifies anything, decodes Parquet or holds one transaction, so they are floors.

- serial: ONE ``psql -f``: ``SET maintenance_work_mem``, a ``\\copy ... (FORMAT csv, HEADER
  true)`` per shard in manifest order, every rebuild statement, ANALYZE of each table.
- parallel (2-way): two ``psql`` processes at a time, phase after phase: the shards split over
  two COPY streams (longest first, each to the less loaded stream by bytes); the indexes and
  unique constraints split over two sessions (by table rows, longest first); then the foreign
  keys and triggers in one session; then ANALYZE split over two. A phase starts when both
  sessions of the previous one are done, as a careful person at a terminal would run it.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import psycopg
from psycopg import sql

from loader import catalog
from seedgen.manifest import Manifest, TableSpec

PREAMBLE = "SET maintenance_work_mem = '512MB';"


def _copy_line(cur: psycopg.Cursor, csv_dir: Path, table: TableSpec, file: str) -> str:
    target = (
        sql.SQL("{} ({})")
        .format(
            sql.Identifier(*table.qualified),
            sql.SQL(", ").join(sql.Identifier(c.name) for c in table.columns),
        )
        .as_string(cur)
    )
    path = str((csv_dir / file).resolve()).replace("'", "''")
    return f"\\copy {target} FROM '{path}' WITH (FORMAT csv, HEADER true)"


def _split(items: list[tuple[float, str]], ways: int = 2) -> list[list[str]]:
    """Longest first, each to the least loaded bin (by weight)."""
    bins: list[tuple[float, list[str]]] = [(0.0, []) for _ in range(ways)]
    for weight, line in sorted(items, key=lambda item: -item[0]):
        i = min(range(ways), key=lambda k: bins[k][0])
        bins[i] = (bins[i][0] + weight, [*bins[i][1], line])
    return [lines for _, lines in bins if lines]


def _prepare(dsn: str, manifest: Manifest) -> tuple[catalog.Snapshot, psycopg.Connection]:
    conn = psycopg.connect(dsn, autocommit=True)
    cur = conn.cursor()
    snap = catalog.capture(cur, [t.qualified for t in manifest.tables])
    for stmt in catalog.drop_statements(snap):  # setup, untimed
        cur.execute(stmt)
    return snap, conn


def _psql(dsn: str, scripts: list[list[str]], work: Path, env: dict[str, str]) -> None:
    """Run each script in its own ``psql`` at the same time; raise if any fails."""
    procs = []
    for i, lines in enumerate(scripts):
        path = work / f"handrun-{i}.sql"
        path.write_text("\n".join([PREAMBLE, *lines]) + "\n")
        cmd = ["psql", "-d", dsn, "-v", "ON_ERROR_STOP=1", "-q", "-X", "-f", str(path)]
        procs.append(subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env))
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"psql failed ({proc.returncode}):\n{err[-3000:]}")


def serial(dsn: str, csv_dir: Path, manifest: Manifest, work: Path, env: dict[str, str]) -> float:
    snap, conn = _prepare(dsn, manifest)
    with conn:
        cur = conn.cursor()
        lines = [
            _copy_line(cur, csv_dir, t, shard.file) for t in manifest.tables for shard in t.shards
        ]
        lines += [stmt.as_string(cur) + ";" for stmt in catalog.rebuild_statements(snap)]
        lines += [
            sql.SQL("ANALYZE {};").format(sql.Identifier(*t.qualified)).as_string(cur)
            for t in manifest.tables
        ]
    t0 = time.monotonic()
    _psql(dsn, [lines], work, env)
    return time.monotonic() - t0


def parallel(dsn: str, csv_dir: Path, manifest: Manifest, work: Path, env: dict[str, str]) -> float:
    snap, conn = _prepare(dsn, manifest)
    rows = {t.name: t.rows for t in manifest.tables}
    with conn:
        cur = conn.cursor()
        copies = [
            (float(shard.bytes), _copy_line(cur, csv_dir, t, shard.file))
            for t in manifest.tables
            for shard in t.shards
        ]
        builds = [(float(rows.get(i.table, 0)), i.definition + ";") for i in snap.indexes]
        builds += [
            (float(rows.get(c.table, 0)), catalog.add_constraint_statement(c).as_string(cur) + ";")
            for c in snap.constraints
            if c.kind != "f"
        ]
        fks = [
            catalog.add_constraint_statement(c).as_string(cur) + ";"
            for c in snap.constraints
            if c.kind == "f"
        ]
        fks += [catalog.enable_statement(trg).as_string(cur) + ";" for trg in snap.triggers]
        analyze = [
            (
                float(t.rows),
                sql.SQL("ANALYZE {};").format(sql.Identifier(*t.qualified)).as_string(cur),
            )
            for t in manifest.tables
        ]
    phases = [_split(copies), _split(builds), [fks] if fks else [], _split(analyze)]
    t0 = time.monotonic()
    for scripts in phases:
        if scripts:
            _psql(dsn, scripts, work, env)
    return time.monotonic() - t0
