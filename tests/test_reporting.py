"""What generation reports: rows written (not parent items) and summaries with fields."""

from __future__ import annotations

import json
from pathlib import Path

from generator.engine import Request, generate
from seedgen.manifest import read_manifest
from seedgen.progress import JsonReporter, TtyReporter
from tests.conftest import SMALL


class Capture:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, text: str) -> None:
        self.lines.append(text)

    def flush(self) -> None:
        return None


def _generate(out: Path, echo: object, **overrides: object) -> None:
    req = Request("genonaut", None, {**SMALL, **overrides}, out.parent / "no.env")
    generate(req, out, echo=echo)  # type: ignore[arg-type]


def test_exploded_table_progress_counts_rows_written(tmp_path: Path) -> None:
    stream = Capture()
    _generate(tmp_path / "set", JsonReporter(stream), shard_rows=2000, max_workers=1)
    rows = {t.name: t.rows for t in read_manifest(tmp_path / "set").tables}
    batches = [json.loads(line) for line in stream.lines]
    tags = [e for e in batches if e["event"] == "batch" and e["table"] == "content_tags"]
    assert len(tags) > 3  # several shards: the running count is really tested
    done = [e["done"] for e in tags]
    assert done == sorted(done) and done[-1] == tags[-1]["total"] == rows["content_tags"]
    assert all(e["done"] <= e["total"] for e in tags)
    assert rows["content_tags"] > 10 * (SMALL["target_rows_content_items"] + 900)


def test_terminal_bar_ends_at_the_rows_written(tmp_path: Path) -> None:
    reporter = TtyReporter()
    try:
        _generate(tmp_path / "set", reporter, shard_rows=2000)
    finally:
        reporter.close()
    rows = {t.name: t.rows for t in read_manifest(tmp_path / "set").tables}
    tasks = {t.description: t for t in reporter.progress.tasks}
    assert {name: (t.completed, t.total) for name, t in tasks.items()} == {
        name: (n, n) for name, n in rows.items()
    }


def test_generate_summary_carries_fields(tmp_path: Path) -> None:
    stream = Capture()
    _generate(tmp_path / "set", JsonReporter(stream))
    events = [json.loads(line) for line in stream.lines]
    summary = next(e for e in events if e["event"] == "summary" and e.get("kind"))
    assert summary["kind"] == "generate" and summary["message"].startswith("generated ")
    assert summary["rows"]["users"] == 60 and summary["rows"]["content_items"] == 400
    assert sum(summary["rows"].values()) == int(summary["message"].split()[1].replace(",", ""))
    assert summary["elapsed"] >= 0 and summary["shards"]["users"] == 1
