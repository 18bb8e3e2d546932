"""SIGKILL the loader at many points; `--resume` must always end in the exact complete state.

Kill points: every named fail point (``loader/faults.py``: after the ledger is written, after the
drop, inside a COPY batch, after COPY, after an index build, after the rebuild, just before the
final commit) plus random moments of an uninterrupted load's timeline (which land inside COPY
statements, index builds and between steps). After each kill, ``--resume`` must leave exact row
counts, the same index/constraint/trigger definitions as before the load, and a complete ledger.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from seedgen.manifest import read_manifest
from tests.conftest import make_set, scalar, seedgen
from tests.test_load_failures import _add_user_trigger, state

FAILPOINTS = [
    "after-start",
    "after-drop",
    "copy-batch:3",
    "copy-batch:60",
    "after-copy",
    "after-index:5",
    "after-index:20",
    "after-rebuild",
    "before-commit",
]


def _load(set_dir: Path, url: str, *extra: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seedgen",
            "load",
            str(set_dir),
            "--database-url",
            url,
            "--jobs",
            "2",
            *extra,
        ],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _phase(url: str) -> str:
    """Where the kill landed, read from the ledger."""
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('seedgen.loads')").fetchone()[0] is None:
            return "before the ledger"
        row = conn.execute("SELECT id, status FROM seedgen.loads ORDER BY id DESC").fetchone()
        if row is None:
            return "before the ledger"
        if row[1] != "running":
            return row[1]
        shards = conn.execute("SELECT count(*) FROM seedgen.loaded_shards").fetchone()[0]
        restored = conn.execute(
            "SELECT count(*) FILTER (WHERE restored), count(*) FROM seedgen.saved_objects"
        ).fetchone()
        return f"running: {shards} shards committed, {restored[0]}/{restored[1]} restored"


def _finish(set_dir: Path, url: str) -> None:
    resumed = _load(set_dir, url, "--resume")
    out, err = resumed.communicate(timeout=300)
    if resumed.returncode != 0:
        assert "no interrupted load" in err, err
        with psycopg.connect(url) as conn:
            has_ledger = conn.execute("SELECT to_regclass('seedgen.loads')").fetchone()[0]
            status = (
                conn.execute("SELECT status FROM seedgen.loads").fetchone()[0]
                if has_ledger
                else None
            )
        if status != "complete":  # killed before the ledger existed: nothing was touched
            again = _load(set_dir, url)
            _, err = again.communicate(timeout=300)
            assert again.returncode == 0, err


CRASH_SET = {  # large enough for many COPY batches, small enough for many kills
    "target_rows_content_items": 1500,
    "target_rows_content_items_auto": 4000,
    "shard_rows": 4000,
    "batch_size_default": 1000,
    "batch_size_content_items": 300,
    "batch_size_content_items_auto": 300,
}


@pytest.fixture
def crash_set(tmp_path: Path) -> Path:
    return make_set(tmp_path / "crash", **CRASH_SET)


def test_sigkill_anywhere_then_resume(crash_set: Path, make_db) -> None:
    manifest = read_manifest(crash_set)
    reference = make_db()
    _add_user_trigger(reference)
    before = state(reference)[0]
    started = time.monotonic()
    full = _load(crash_set, reference)
    _, err = full.communicate(timeout=300)
    assert full.returncode == 0, err
    duration = time.monotonic() - started
    assert state(reference) == (before, manifest.total_rows)

    rng = random.Random(20261121)
    kills = [("failpoint", fp) for fp in FAILPOINTS]
    kills += [("timer", rng.uniform(0.4, duration)) for _ in range(5)]
    phases = []
    for kind, where in kills:
        url = make_db()
        _add_user_trigger(url)
        if kind == "failpoint":
            proc = _load(crash_set, url, env={"SEEDGEN_FAILPOINT": where})
            proc.communicate(timeout=300)
            assert proc.returncode == -signal.SIGKILL, f"fail point {where} never fired"
        else:
            proc = _load(crash_set, url)
            time.sleep(where)
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=300)
        phases.append(f"{kind} {where}: {_phase(url)}")
        _finish(crash_set, url)
        assert state(url) == (before, manifest.total_rows), phases[-1]
        assert scalar(url, "SELECT count(*) FROM seedgen.loads WHERE status = 'complete'") == 1
        assert (
            scalar(
                url,
                "SELECT count(*) FROM (SELECT content_id, content_source, tag_id FROM "
                "content_tags GROUP BY 1, 2, 3 HAVING count(*) > 1) d",
            )
            == 0
        )
    print("\n".join(phases))
    assert sum("running" in p for p in phases) >= 8, phases


def test_repair_undoes_an_interrupted_initial_load(crash_set: Path, make_db) -> None:
    url = make_db()
    before = state(url)[0]
    proc = _load(crash_set, url, env={"SEEDGEN_FAILPOINT": "copy-batch:5"})
    proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL
    assert state(url)[0] != before  # indexes and FKs are gone now
    blocked = _load(crash_set, url)
    _, err = blocked.communicate(timeout=300)
    assert blocked.returncode != 0 and "--resume`" in err and "`seedgen repair" in err
    repair = seedgen("repair", "--database-url", url)
    assert repair.returncode == 0, repair.stderr
    assert "the database is as it was before the load" in repair.stderr
    assert state(url) == (before, 0)
    assert scalar(url, "SELECT status FROM seedgen.loads") == "rolled_back"
    again = _load(crash_set, url)  # the command repair names
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err


def test_ctrl_c_leaves_a_resumable_load(crash_set: Path, make_db) -> None:
    url = make_db()
    before = state(url)[0]
    proc = _load(crash_set, url)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "running" not in _phase(url):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0, "the load finished before Ctrl-C arrived"
    # Stopped mid-load: partial counts, elapsed time and both ways out; nothing undone.
    assert "interrupted: load" in err and "--resume" in err and "seedgen repair" in err, err
    assert "load FAILED after" in err
    assert "running" in _phase(url)
    _finish(crash_set, url)
    assert state(url) == (before, read_manifest(crash_set).total_rows)
