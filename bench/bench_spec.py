#!/usr/bin/env python3
"""Zero-spec generation throughput (``make bench-spec``): rows/s per core on a narrow and a wide
table that nobody wrote a spec for, next to the hand-written genonaut generation measured in the
same run (ratios within one run mean something on a shared machine; absolute numbers do not).

The tables are ``bench/spec_tables.py``; every column's strategy is inferred exactly as
``seedgen generate --models bench.spec_tables:metadata`` infers it; the only spec is the row
count of each table. Inference and plan-time checks (``prepare``, once, in the parent) are not
timed: each figure is ``generator.engine.generate`` writing Parquet shards with the default
worker count, median of --runs runs, divided by the workers used ("per core"). Every run starts
with the in-process caches cleared, like a fresh ``seedgen generate``: Faker pools (2,000 values
per Faker-backed column, built once per run) are part of the figure, which is what makes the
wide table's number depend on its row count.

Usage: python bench/bench_spec.py [--runs 3] [--narrow-rows 2000000] [--wide-rows 200000]
[--genonaut-scale 1.0] [--workers 0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from generator.engine import Request, generate
from generator.spec.dataset import prepare

ROOT = Path(__file__).resolve().parents[1]
# bench/spec_tables.py; this script's directory is first on sys.path (and ``bench`` there is
# bench/bench.py), so the module is named without its folder.
MODELS = "spec_tables:metadata"
BASE_ROWS = {"target_rows_content_items": 20_000, "target_rows_content_items_auto": 100_000}


def spec_context(table: str, rows: int, work: Path) -> dict[str, Any]:
    """A spec that names only the table's row count: every column is inferred."""
    path = work / f"{table}.yaml"
    doc = {"dataset": f"bench_{table}", "models": MODELS, "tables": {table: {"rows": rows}}}
    path.write_text(yaml.safe_dump(doc))
    context = prepare(path, None, None)
    context["tables"] = [t for t in context["tables"] if t["name"] == table]
    context["ddl"] = [d for d in context["ddl"] if d["table"] == table]
    return context


def cold() -> None:
    """Forget every in-process cache of ``generator.*`` (Faker pools, word lists, worker plans):
    forked workers inherit the parent's, so without this runs 2 and 3 would skip the one-time
    pool building a real ``seedgen generate`` always pays."""
    for name, module in list(sys.modules.items()):
        if name.startswith("generator"):
            for obj in list(vars(module).values()):
                clear = getattr(obj, "cache_clear", None)
                if callable(clear):
                    clear()


def timed(req: Request, out: Path) -> tuple[float, int]:
    cold()
    started = time.monotonic()
    manifest = generate(req, out, force=True, echo=lambda _m: None)
    assert manifest is not None
    return time.monotonic() - started, manifest.total_rows


def measure(req: Request, out: Path, runs: int) -> tuple[float, int, list[float]]:
    results = [timed(req, out) for _ in range(runs)]
    seconds = [s for s, _ in results]
    return statistics.median(seconds), results[0][1], seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--narrow-rows", type=int, default=2_000_000)
    ap.add_argument("--wide-rows", type=int, default=200_000)
    ap.add_argument("--genonaut-scale", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=0, help="0 = one per core")
    args = ap.parse_args(argv)
    os.chdir(ROOT)  # the models module is imported from the checkout, like --models does
    workers = args.workers or (os.cpu_count() or 1)
    common = {"max_workers": workers, "format": "parquet"}
    genonaut = {k: round(v * args.genonaut_scale) for k, v in BASE_ROWS.items()}
    rows = []
    with tempfile.TemporaryDirectory(prefix="seedgen-bench-spec-") as tmp:
        work = Path(tmp)
        cases = [
            ("narrow (4 cols, inferred)", "spec", spec_context("narrow", args.narrow_rows, work)),
            ("wide (24 cols, inferred)", "spec", spec_context("wide", args.wide_rows, work)),
            ("genonaut (hand-written)", "genonaut", None),
        ]
        for label, dataset, context in cases:
            overrides = dict(common, **(genonaut if context is None else {}))
            req = Request(dataset, None, overrides, Path("env/.env"), context=context)
            print(f"{label}: {args.runs} run(s) ...", file=sys.stderr, flush=True)
            median, total, seconds = measure(req, work / "set", args.runs)
            rows.append((label, total, median, seconds))
    print(f"\nzero-spec generation, {workers} worker(s), median of {args.runs} run(s)\n")
    print("| table | rows | median s (runs) | rows/s | rows/s per core |")
    print("|---|---:|---|---:|---:|")
    for label, total, median, seconds in rows:
        runs = ", ".join(f"{s:.2f}" for s in seconds)
        rate = total / median
        per_core = rate / workers
        print(f"| {label} | {total:,} | {median:.2f} ({runs}) | {rate:,.0f} | {per_core:,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
