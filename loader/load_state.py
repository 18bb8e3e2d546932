"""What a load is given, what its phases share while it runs, and what it reports.

``LoadOptions`` (the flags of ``seedgen load``) and ``LoadReport`` (what ``load_set`` returns and
``print_summary`` prints) are public through ``loader.load``. ``LoadState`` is what the phases of
one load read and write; ``loader.load_start`` and ``loader.load_phases`` add the phases, and
``loader.load``'s ``_Load`` joins them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from loader import catalog, post_load
from loader.append_plan import TablePlan
from loader.target import Target
from seedgen.manifest import Manifest, set_identity
from seedgen.progress import Reporter


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


class LoadState:
    """What the phases of one load share: the connection, the set, the options, the plans
    and the report they fill in."""

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

    def _timed(self, step: str, fn: Callable[[], object]) -> None:
        t0 = time.monotonic()
        fn()
        self.report.timings[step] = self.report.timings.get(step, 0.0) + time.monotonic() - t0


def session_settings(options: LoadOptions) -> dict[str, str]:
    return {
        "maintenance_work_mem": options.maintenance_work_mem,
        "work_mem": options.work_mem,
    }


def print_summary(report: LoadReport, echo: Reporter, *, failed: bool) -> None:
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
