#!/usr/bin/env python3
"""seedgen's own benchmark: generation, load, and the load's physical limit, in one run.

Everything is measured in the same process run, so the ratios are meaningful even on a noisy
shared machine (absolute seconds are not). Each timed figure is the median of --runs runs.

1. Generation: ``generator.engine.generate`` of the default genonaut set (Parquet) through the
   library API, with ``target_rows_content_items`` (20,000) and ``target_rows_content_items_auto``
   (100,000) multiplied by --scale. Reported as wall seconds and rows/s.
   Peak RSS: ``seedgen generate`` as a subprocess, once at --scale and once at 10x --scale with
   the same --shard-rows. Each runs under a small helper process that reads
   ``getrusage(RUSAGE_CHILDREN).ru_maxrss``: the peak of the largest single process (the CLI
   or one generator worker), not a sum. Memory is bounded by shard size, so the 10x/1x RSS
   ratio should stay near 1, far below the 10x row ratio.
2. seedgen load: ``loader.load.load_set`` of that set into a fresh database built from
   tests/fixtures/genonaut_schema.sql; the whole call is timed (sha256 verify, capture, drop,
   COPY, rebuild, analyze, count check, sequences, commit). seedgen's own step timings are
   shown; "other" is the whole call minus those steps.
3. Physical limits (``bench/handrun.py``): the same set (same seed, so the same rows) generated
   as CSV, loaded by hand into a fresh database with the objects seedgen drops dropped beforehand
   (untimed): the serial limit (ONE ``psql -f``: ``\\copy`` per shard, every rebuild statement,
   ANALYZE) and the 2-way parallel limit (two ``psql`` COPY streams, then the index builds split
   over two sessions, then FKs, then ANALYZE over two). Neither verifies nor decodes Parquet, so
   both are floors; ratio = seedgen load / limit, a median of the per-run ratios.
4. End to end: generation + seedgen load of the same run, summed per run.

``--append`` (``make bench-append``) measures ``seedgen load --append`` instead: the default set
(seed 42) is loaded once into a template database; each run copies it (``CREATE DATABASE …
TEMPLATE``, untimed) and times appending a seed-43 set of 1 %, 20 %, 50 % and 100 % of its size
(``--sizes``), once keeping the indexes (``rebuild_ratio`` huge) and once rebuilding them
(``rebuild_ratio`` 0). The keep/rebuild ratio per size is what the default ``--rebuild-ratio``
rests on; the 100 % append is also compared with an initial load of the same set into an empty
database (the cost of staging, key checks and the merge).

The bench databases (seedgen_bench_*_test) and temporary sets are removed at the end, also on
error.  Usage: python bench/bench.py [--runs 3] [--scale 1.0] [--shard-rows 100000] [--dsn DSN]
[--load-only [--tables a,b]] [--append]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import handrun
import psycopg
from psycopg import sql

from generator.engine import Request, generate
from loader.load import load_set
from loader.load_state import LoadOptions
from seedgen import devdb
from seedgen.manifest import Manifest, read_manifest, write_manifest

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "tests" / "fixtures" / "genonaut_schema.sql"
SEEDGEN = Path(sys.executable).parent / "seedgen"
LOAD_DB, LIMIT_DB = "seedgen_bench_load_test", "seedgen_bench_limit_test"
BASE_DB = "seedgen_bench_base_test"
APPEND_SIZES = "1,20,50,100"  # percent of the base set
BASE_ROWS = {"target_rows_content_items": 20_000, "target_rows_content_items_auto": 100_000}
PSQL_ENV = {**os.environ, "PGOPTIONS": "-c client_min_messages=warning"}
# Runs argv[1:] and prints the peak RSS (KiB) of its largest process, children included.
RSS_HELPER = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def settings(scale: float, shard_rows: int, fmt: str) -> dict[str, object]:
    return {
        **{k: round(v * scale) for k, v in BASE_ROWS.items()},
        "shard_rows": shard_rows,
        "format": fmt,
    }


def run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=PSQL_ENV, **kw)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def fresh_db(admin: str, name: str) -> str:
    """Drop and create ``name``, build the target schema in it; return its conninfo."""
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = devdb.with_dbname(admin, name)
    run(["psql", "-d", dsn, "-v", "ON_ERROR_STOP=1", "-q", "-f", str(SCHEMA)])
    return dsn


def gen_set(out: Path, opts: dict[str, object]) -> Manifest:
    """Generate a genonaut set quietly through the library API."""
    manifest = generate(
        Request("genonaut", None, opts, Path("env/.env")), out, force=True, echo=lambda s: None
    )
    assert manifest is not None
    return manifest


def gen_library(out: Path, opts: dict[str, object]) -> tuple[float, int]:
    t0 = time.monotonic()
    manifest = gen_set(out, opts)
    return time.monotonic() - t0, manifest.total_rows


def gen_rss(out: Path, opts: dict[str, object]) -> tuple[int, float, int]:
    """``seedgen generate`` in a subprocess: (peak RSS KiB, wall s, rows)."""
    flags = [a for k, v in opts.items() for a in (f"--{k.replace('_', '-')}", str(v))]
    cmd = [
        sys.executable,
        "-c",
        RSS_HELPER,
        str(SEEDGEN),
        "generate",
        "genonaut",
        "--out",
        str(out),
        "--force",
        *flags,
    ]
    t0 = time.monotonic()
    proc = run(cmd)
    wall = time.monotonic() - t0
    return int(proc.stdout.split()[-1]), wall, read_manifest(out).total_rows


def seedgen_load(admin: str, set_dir: Path) -> tuple[float, dict[str, float]]:
    url = devdb.as_url(fresh_db(admin, LOAD_DB))
    t0 = time.monotonic()
    report = load_set(set_dir, url, echo=lambda s: None)
    return time.monotonic() - t0, dict(report.timings)


def limits(admin: str, csv_dir: Path, manifest: Manifest, work: Path) -> tuple[float, float]:
    """(serial, 2-way parallel) hand-run limits on the same CSV files (``bench/handrun.py``)."""
    serial_t = handrun.serial(fresh_db(admin, LIMIT_DB), csv_dir, manifest, work, PSQL_ENV)
    parallel_t = handrun.parallel(fresh_db(admin, LIMIT_DB), csv_dir, manifest, work, PSQL_ENV)
    return serial_t, parallel_t


def limit_rows(load_t: list[float], serial_t: list[float], parallel_t: list[float]) -> None:
    """The two limits and seedgen's ratios to each (medians of the per-run ratios)."""
    vs_serial = [s / lim for s, lim in zip(load_t, serial_t, strict=True)]
    vs_parallel = [s / lim for s, lim in zip(load_t, parallel_t, strict=True)]
    print(
        f"| serial limit: one `psql -f` (\\copy CSV + same DDL + ANALYZE) | {med(serial_t):.2f} s "
        f"| {fmt_runs(serial_t)} |"
    )
    print(
        f"| parallel limit: 2 `psql` COPY streams, index builds over 2 sessions, FKs, ANALYZE "
        f"| {med(parallel_t):.2f} s | {fmt_runs(parallel_t)} |"
    )
    print(f"| ratio seedgen / serial limit | {med(vs_serial):.2f}x | {fmt_runs(vs_serial, 'x')} |")
    print(
        f"| ratio seedgen / parallel limit (goal <= 0.85x) | {med(vs_parallel):.2f}x | "
        f"{fmt_runs(vs_parallel, 'x')} |"
    )


def subset(src: Path, dst: Path, names: list[str]) -> Path:
    """A set holding only ``names`` of ``src`` (shards hard-linked, manifest rewritten)."""
    manifest = read_manifest(src)
    unknown = set(names) - {t.name for t in manifest.tables}
    if unknown:
        raise SystemExit(f"--tables: unknown tables {sorted(unknown)}")
    tables = [t for t in manifest.tables if t.name in names]
    for table in tables:
        for shard in table.shards:
            (dst / shard.file).parent.mkdir(parents=True, exist_ok=True)
            os.link(src / shard.file, dst / shard.file)
    ddl = [d for d in manifest.ddl if d.table in names]
    write_manifest(dst, manifest.model_copy(update={"tables": tables, "ddl": ddl}))
    return dst


def load_only(admin: str, args: argparse.Namespace, work: Path) -> int:
    """seedgen load vs the hand-run limit only (``make bench-load``), optionally for a subset."""
    pq_dir, csv_dir = work / "parquet", work / "csv"
    for out, fmt in ((pq_dir, "parquet"), (csv_dir, "csv")):
        gen_set(out, settings(args.scale, args.shard_rows, fmt))
    names = [n.strip() for n in args.tables.split(",") if n.strip()] if args.tables else []
    if names:
        pq_dir = subset(pq_dir, work / "parquet-subset", names)
        csv_dir = subset(csv_dir, work / "csv-subset", names)
    manifest = read_manifest(csv_dir)
    load_t: list[float] = []
    serial_t: list[float] = []
    parallel_t: list[float] = []
    steps: dict[str, list[float]] = {}
    for i in range(args.runs):
        print(f"run {i + 1}/{args.runs}: seedgen load, limits ...", file=sys.stderr, flush=True)
        elapsed, timings = seedgen_load(admin, pq_dir)
        load_t.append(elapsed)
        for k, v in timings.items():
            steps.setdefault(k, []).append(v)
        serial_one, parallel_one = limits(admin, csv_dir, manifest, work)
        serial_t.append(serial_one)
        parallel_t.append(parallel_one)
    shape = ", ".join(f"{t.name} {t.rows:,} rows x {len(t.columns)} cols" for t in manifest.tables)
    print(f"\n## seedgen bench-load: {shape}; {os.cpu_count()} CPUs, {args.runs} run(s)\n")
    print("| measure | median | runs |")
    print("|---|---:|---|")
    print(f"| seedgen load | {med(load_t):.2f} s | {fmt_runs(load_t)} |")
    step_text = ", ".join(f"{k} {med(v):.2f}s" for k, v in steps.items())
    print(f"| - seedgen steps (medians) | {step_text} | |")
    limit_rows(load_t, serial_t, parallel_t)
    return 0


def append_bench(admin: str, args: argparse.Namespace, work: Path) -> int:
    """Append sets of several sizes onto the default set: keep vs rebuild indexes, vs initial."""
    base = work / "base"
    gen_set(base, settings(args.scale, args.shard_rows, "parquet"))
    sizes = {f"{p} %": int(p) / 100 for p in args.sizes.split(",")}
    sets = {}
    for label, frac in sizes.items():
        opts = {
            **settings(args.scale * frac, args.shard_rows, "parquet"),
            "seed": 43,
            "key_offset": 10_000_000,
            "target_rows_users": max(10, round(500 * frac)),
        }
        sets[label] = work / f"append-{frac}"
        gen_set(sets[label], opts)
    print("loading the base set into the template database ...", file=sys.stderr, flush=True)
    load_set(base, devdb.as_url(fresh_db(admin, BASE_DB)), echo=lambda s: None)
    timings: dict[tuple[str, str], list[float]] = {}
    steps: dict[tuple[str, str], dict[str, list[float]]] = {}
    for i in range(args.runs):
        for label, set_dir in sets.items():
            strategies = ("keep", "rebuild") if sizes[label] < 1 else ("rebuild", "initial")
            for strategy in strategies:
                print(
                    f"run {i + 1}/{args.runs}: {label} {strategy} ...", file=sys.stderr, flush=True
                )
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(LOAD_DB)
                        )
                    )
                    if strategy != "initial":
                        conn.execute(
                            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                                sql.Identifier(LOAD_DB), sql.Identifier(BASE_DB)
                            )
                        )
                if strategy == "initial":
                    url = devdb.as_url(fresh_db(admin, LOAD_DB))
                    options = LoadOptions()
                else:
                    url = devdb.as_url(devdb.with_dbname(admin, LOAD_DB))
                    ratio = 0.0 if strategy == "rebuild" else 1e12
                    options = LoadOptions(append=True, rebuild_ratio=ratio)
                t0 = time.monotonic()
                report = load_set(set_dir, url, options, echo=lambda s: None)
                timings.setdefault((label, strategy), []).append(time.monotonic() - t0)
                for step, seconds in report.timings.items():
                    steps.setdefault((label, strategy), {}).setdefault(step, []).append(seconds)
    base_rows = read_manifest(base).total_rows
    print(
        f"\n## seedgen bench-append: onto the genonaut set ({base_rows:,} rows), "
        f"{os.cpu_count()} CPUs, {args.runs} run(s)\n"
    )
    print("| appended set | rows | keep indexes | rebuild indexes | keep / rebuild |")
    print("|---|---:|---:|---:|---:|")
    for label, set_dir in sets.items():
        rows = read_manifest(set_dir).total_rows
        if sizes[label] < 1:
            keep, rebuild = med(timings[(label, "keep")]), med(timings[(label, "rebuild")])
            print(
                f"| {label} | {rows:,} | {keep:.2f} s | {rebuild:.2f} s | {keep / rebuild:.2f}x |"
            )
        else:
            append_t, initial_t = med(timings[(label, "rebuild")]), med(timings[(label, "initial")])
            print(
                f"| {label} (rebuild) | {rows:,} | | {append_t:.2f} s | initial load of the same "
                f"set into an empty database: {initial_t:.2f} s (append / initial "
                f"{append_t / initial_t:.2f}x) |"
            )
    print("\nseedgen's own steps (medians):")
    for key, values in timings.items():
        parts = ", ".join(f"{k} {med(v):.1f}s" for k, v in steps.get(key, {}).items())
        print(f"- {key[0]} {key[1]}: {parts} (runs: {fmt_runs(values)})")
    return 0


def drop_dbs(admin: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in (LOAD_DB, LIMIT_DB, BASE_DB):
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def med(values: list[float]) -> float:
    return statistics.median(values)


def fmt_runs(values: list[float], unit: str = "s") -> str:
    return ", ".join(f"{v:.2f}{unit}" for v in values)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="runs per timed figure (median)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies the content row targets")
    ap.add_argument("--shard-rows", type=int, default=100_000, help="rows per shard file")
    ap.add_argument("--dsn", default=None, help="superuser DSN on database postgres")
    ap.add_argument("--load-only", action="store_true", help="only seedgen load vs the limit")
    ap.add_argument("--tables", default="", help="with --load-only: load only these tables")
    ap.add_argument("--append", action="store_true", help="only --append: keep vs rebuild")
    ap.add_argument(
        "--sizes", default=APPEND_SIZES, help="with --append: appended set sizes, %% of the base"
    )
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    os.chdir(ROOT)  # config.json and env/.env are resolved relative to the project
    admin = args.dsn or devdb.server_dsn()
    work = Path(tempfile.mkdtemp(prefix="seedgen-bench-"))
    pq_dir, csv_dir, big_dir = work / "parquet", work / "csv", work / "parquet-10x"
    if args.load_only or args.append:
        try:
            return (append_bench if args.append else load_only)(admin, args, work)
        finally:
            drop_dbs(admin)
            shutil.rmtree(work, ignore_errors=True)
    gen_t: list[float] = []
    load_t: list[float] = []
    serial_t: list[float] = []
    parallel_t: list[float] = []
    steps: dict[str, list[float]] = {}
    try:
        print(
            f"peak RSS: generating at scale {args.scale} and {10 * args.scale} ...",
            file=sys.stderr,
            flush=True,
        )
        rss1, wall1, rows1 = gen_rss(pq_dir, settings(args.scale, args.shard_rows, "parquet"))
        rss10, wall10, rows10 = gen_rss(
            big_dir, settings(10 * args.scale, args.shard_rows, "parquet")
        )
        shutil.rmtree(big_dir)
        gen_set(csv_dir, settings(args.scale, args.shard_rows, "csv"))
        csv_manifest, pq_rows = read_manifest(csv_dir), read_manifest(pq_dir).tables
        if [(t.name, t.rows) for t in csv_manifest.tables] != [(t.name, t.rows) for t in pq_rows]:
            raise RuntimeError("CSV and Parquet sets differ in tables or row counts")
        for i in range(args.runs):
            print(
                f"run {i + 1}/{args.runs}: generate, seedgen load, psql limit ...",
                file=sys.stderr,
                flush=True,
            )
            elapsed, rows = gen_library(pq_dir, settings(args.scale, args.shard_rows, "parquet"))
            gen_t.append(elapsed)
            elapsed, timings = seedgen_load(admin, pq_dir)
            load_t.append(elapsed)
            timings["other"] = elapsed - sum(timings.values())
            for k, v in timings.items():
                steps.setdefault(k, []).append(v)
            serial_one, parallel_one = limits(admin, csv_dir, csv_manifest, work)
            serial_t.append(serial_one)
            parallel_t.append(parallel_one)
    finally:
        drop_dbs(admin)
        shutil.rmtree(work, ignore_errors=True)

    step_text = ", ".join(f"{k} {med(v):.2f}s" for k, v in steps.items())
    end_to_end = [g + lo for g, lo in zip(gen_t, load_t, strict=True)]
    print(
        f"\n## seedgen bench: genonaut, scale {args.scale} ({rows:,} rows), "
        f"shard_rows {args.shard_rows}, {os.cpu_count()} CPUs, {args.runs} run(s)\n"
    )
    print("| measure | median | runs |")
    print("|---|---:|---|")
    print(f"| generation, library API, Parquet | {med(gen_t):.2f} s | {fmt_runs(gen_t)} |")
    print(
        f"| generation throughput | {rows / med(gen_t):,.0f} rows/s | "
        f"{', '.join(f'{rows / t:,.0f}' for t in gen_t)} |"
    )
    print(f"| seedgen load (whole `load_set` call) | {med(load_t):.2f} s | {fmt_runs(load_t)} |")
    print(f"| - seedgen steps (medians) | {step_text} | |")
    limit_rows(load_t, serial_t, parallel_t)
    print(
        f"| generate + load, end to end (goal <= 20 s) | {med(end_to_end):.2f} s | "
        f"{fmt_runs(end_to_end)} |"
    )
    print(
        f"| peak RSS, `seedgen generate` scale {args.scale} | {rss1 / 1024:,.0f} MiB | "
        f"{rows1:,} rows in {wall1:.1f} s |"
    )
    print(
        f"| peak RSS, `seedgen generate` scale {10 * args.scale} | {rss10 / 1024:,.0f} MiB | "
        f"{rows10:,} rows in {wall10:.1f} s |"
    )
    print(f"| peak RSS ratio 10x / 1x | {rss10 / rss1:.2f}x | rows ratio {rows10 / rows1:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
