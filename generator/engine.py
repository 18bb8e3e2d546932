"""Generate a shard set: plan, build shards in worker processes, write the manifest, commit.

Shards are independent (every value is a pure function of its row index), so workers build them
in any order; the manifest lists them in row order. Files go to ``<out>.partial/``; the manifest
is written last and the directory renamed to ``<out>``, so a set that exists is complete. On any
error or Ctrl-C the partial directory is removed and nothing else is touched.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import faker
import numpy
import pyarrow

import seedgen
from generator.dataset import Dataset, dataset_class, known_config_sections
from generator.plan import Plan, TablePlan, build_table, estimate_bytes, resolve_plan
from generator.writer import write_shard
from seedgen.errors import ConfigError
from seedgen.manifest import (
    MANIFEST_VERSION,
    PARTIAL_SUFFIX,
    Manifest,
    ShardSpec,
    TableDDL,
    TableSpec,
    shard_relpath,
    write_manifest,
)
from seedgen.progress import Reporter, as_reporter
from seedgen.settings import GenerateSettings, build_settings, read_config_section

Echo = Reporter | Callable[[str], None]
DEFAULT_SETS_DIR = Path("seed-data/sets")


@dataclass(frozen=True)
class Request:
    dataset: str
    config_path: Path | None
    overrides: dict[str, Any]
    env_file: Path
    # Inputs resolved before the request (a spec dataset's resolved spec); None: the dataset's
    # own ``resolve_context`` reads them (env/.env).
    context: dict[str, Any] | None = None


def load_dataset(req: Request, echo: Echo | None = None) -> Dataset:
    """Settings from config.json + flags, env resolved, dataset constructed: all input checks.

    ``echo`` hears what the config file does not say (no section for this dataset: defaults).
    """
    cls = dataset_class(req.dataset)
    section = read_config_section(
        req.config_path,
        cls.config_sections,
        known_config_sections(),
        req.dataset,
        None if cls.config_optional else echo,
    )
    where = f"{req.config_path or 'config.json'} [{cls.config_sections[0]}] or its --flag"
    settings = build_settings(cls.settings_model, section, req.overrides, where)
    context = req.context
    if context is None:
        context = cls.resolve_context(settings, req.env_file)
    return cls(settings, context)


def describe_plan(plan: Plan, echo: Reporter) -> None:
    ds = plan.dataset
    fmt = ds.settings.format
    echo.summary(
        f"plan: dataset {ds.name}, seed {ds.settings.seed}, format {fmt}, "
        f"{ds.settings.workers()} worker(s)"
    )
    total = 0
    width = max([20, *(len(table.name) for table in plan.tables)])
    for table in plan.tables:
        size = estimate_bytes(ds, table, fmt)
        total += size
        deps = ", ".join(table.depends_on) or "-"
        approx = "~" if table.gen.exploded else ""
        echo.summary(
            f"  {table.name:<{width}} {approx}{table.expected_rows:>12,} rows  "
            f"{len(table.shards):>4} shard(s)  ~{_mb(size)}  after: {deps}"
        )
    echo.summary(f"  total ~{plan.expected_rows:,} rows, ~{_mb(total)}")


def generate(
    req: Request,
    out: Path,
    *,
    force: bool = False,
    dry_run: bool = False,
    echo: Echo | None = None,
) -> Manifest | None:
    echo = as_reporter(echo)
    dataset = load_dataset(req, echo)
    plan = resolve_plan(dataset)
    if dry_run:
        describe_plan(plan, echo)
        if out.exists():
            needs = "it would replace it" if force else "a real run needs --force to replace it"
            echo.summary(f"{out} already exists: {needs}")
        echo.summary("dry run: nothing written", kind="generate", dry_run=True)
        return None
    if out.exists() and not force:
        raise ConfigError(f"{out} already exists", hint="pass --force to replace it, or --out")
    partial = Path(str(out) + PARTIAL_SUFFIX)
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    started = time.monotonic()
    try:
        tables = _run_shards(req, plan, partial, echo)
        manifest = _manifest(dataset, plan, tables)
        write_manifest(partial, manifest)
        _commit(partial, out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    _summary(manifest, out, time.monotonic() - started, echo)
    return manifest


def _summary(manifest: Manifest, out: Path, elapsed: float, echo: Reporter) -> None:
    rows = manifest.total_rows
    echo.summary(
        f"generated {rows:,} rows in {elapsed:.1f}s ({rows / max(elapsed, 1e-9):,.0f} rows/s) "
        f"-> {out}",
        kind="generate",
        set=str(out),
        rows={spec.name: spec.rows for spec in manifest.tables},
        shards={spec.name: len(spec.shards) for spec in manifest.tables},
        elapsed=round(elapsed, 3),
    )
    width = max([20, *(len(spec.name) for spec in manifest.tables)])
    for spec in manifest.tables:
        echo.summary(f"  {spec.name:<{width}} {spec.rows:>12,} rows  {len(spec.shards)} shard(s)")


def _commit(partial: Path, out: Path) -> None:
    if out.exists():
        old = Path(f"{out}.old-{os.getpid()}")
        os.rename(out, old)
        os.rename(partial, out)
        shutil.rmtree(old)
    else:
        os.rename(partial, out)


_Job = tuple[str, int, int, int]  # table, shard number, first row, stop row
_Payload = tuple[str, dict[str, Any], dict[str, Any]]  # dataset name, settings, context


def _run_shards(
    req: Request, plan: Plan, set_dir: Path, echo: Reporter
) -> dict[str, list[ShardSpec]]:
    settings = plan.dataset.settings
    jobs = [
        (table.name, number, start, stop)
        for table in plan.tables
        for number, (start, stop) in enumerate(table.shards)
    ]
    by_table: dict[str, dict[int, ShardSpec]] = {t.name: {} for t in plan.tables}
    progress = _Progress(plan, echo)
    workers = min(settings.workers(), len(jobs))
    payload: _Payload = (req.dataset, settings.model_dump(mode="json"), plan.dataset.context)
    if workers <= 1:
        for job in jobs:
            by_table[job[0]][job[1]] = shard = _build_shard(payload, str(set_dir), job)
            progress.done(job[0], shard)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            pending: dict[Future[ShardSpec], _Job] = {}
            queue = list(reversed(jobs))
            try:
                while queue or pending:
                    while queue and len(pending) < workers * 2:
                        job = queue.pop()
                        pending[pool.submit(_build_shard, payload, str(set_dir), job)] = job
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        job = pending.pop(future)
                        by_table[job[0]][job[1]] = shard = future.result()
                        progress.done(job[0], shard)
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
    return {name: [shards[i] for i in sorted(shards)] for name, shards in by_table.items()}


class _Progress:
    """Rows written per table, against the table's expected rows.

    Shards are cut on driving rows (an exploded table's parent items), but a person and
    ``--log-json`` want rows written: ``done`` counts those, and for an exploded table ``total``
    is extrapolated from the share of driving rows done so far (exact once the table is done).
    """

    def __init__(self, plan: Plan, echo: Reporter) -> None:
        self.plan = {t.name: t for t in plan.tables}
        self.rows = {name: 0 for name in self.plan}
        self.driving = {name: 0 for name in self.plan}
        self.shown = {name: -10.0 for name in self.plan}
        self.echo = echo

    def done(self, table: str, shard: ShardSpec) -> None:
        self.rows[table] += shard.rows
        self.driving[table] += shard.stop - shard.start
        driving_total = self.plan[table].gen.rows
        pct = 100.0 * self.driving[table] / driving_total if driving_total else 100.0
        line = ""  # plain logs: at most one line per table per 10 %
        if pct >= 100.0 or pct - self.shown[table] >= 10.0:
            self.shown[table] = pct
            line = f"  {table}: {self.rows[table]:,} rows written ({pct:.0f}%)"
        self.echo.batch(table, self.rows[table], self.expected(table), shard.bytes, line=line)

    def expected(self, table: str) -> int:
        rows, driving = self.rows[table], self.driving[table]
        driving_total = self.plan[table].gen.rows
        if driving >= driving_total or not driving:
            return rows
        return max(rows, round(rows * driving_total / driving))


@lru_cache(maxsize=2)
def _worker_plan(
    name: str, settings_json: str, context_json: str
) -> tuple[Dataset, dict[str, TablePlan]]:
    """The dataset and its plan, rebuilt once per worker process from plain data."""
    cls = dataset_class(name)
    settings: GenerateSettings = cls.settings_model.model_validate_json(settings_json)
    dataset = cls(settings, json.loads(context_json))
    return dataset, {t.name: t for t in resolve_plan(dataset).tables}


def _build_shard(payload: _Payload, set_dir: str, job: _Job) -> ShardSpec:
    """Runs in a worker: build and write one shard."""
    name, settings, context = payload
    dataset, plans = _worker_plan(name, json.dumps(settings), json.dumps(context, sort_keys=True))
    table_name, number, start, stop = job
    table_plan = plans[table_name]
    fmt = dataset.settings.format
    return write_shard(
        build_table(dataset, table_plan, start, stop),
        Path(set_dir),
        shard_relpath(table_name, number, fmt),
        fmt,
        table_plan.gen.batch_rows,
        start,
        stop,
    )


def _manifest(dataset: Dataset, plan: Plan, shards: dict[str, list[ShardSpec]]) -> Manifest:
    settings = dataset.settings
    tables = [
        TableSpec(
            name=t.name,
            schema_name=t.gen.schema_name,
            columns=t.columns,
            primary_key=t.primary_key,
            depends_on=t.depends_on,
            rows=sum(s.rows for s in shards[t.name]),
            batch_rows=t.gen.batch_rows,
            key_ranges=t.gen.key_ranges,
            shared_keys=list(t.gen.shared_keys),
            on_conflict=t.gen.on_conflict,
            references=list(t.gen.references),
            shards=shards[t.name],
        )
        for t in plan.tables
    ]
    return Manifest(
        manifest_version=MANIFEST_VERSION,
        dataset=dataset.name,
        seed=settings.seed,
        format=settings.format,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        config=settings.model_dump(mode="json"),
        versions={
            "seedgen": seedgen.__version__,
            "faker": faker.VERSION,
            "pyarrow": pyarrow.__version__,
            "numpy": numpy.__version__,
        },
        extensions=list(dataset.extensions),
        ddl=[TableDDL.model_validate(d) for d in dataset.ddl()],
        tables=tables,
        post_load=dataset.post_load(),
    )


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


__all__ = ["DEFAULT_SETS_DIR", "Request", "generate", "load_dataset"]
