"""``Pool.run_graph``: every job after the jobs it waits for, longest path first, the first error
stops the rest; ``schedule.load_jobs``: what each job of a load waits for."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loader import catalog, pgtree
from loader.pool import Job, Pool, Task, priorities
from loader.schedule import load_jobs
from seedgen.manifest import read_manifest
from tests.conftest import make_set


def _recorder(log: list[tuple[str, str]], lock: threading.Lock, name: str, fail: bool = False):
    def task(conn: psycopg.Connection) -> None:
        with lock:
            log.append(("start", name))
        conn.execute("SELECT pg_sleep(0.01)")
        if fail:
            raise ValueError(f"{name} failed")
        with lock:
            log.append(("end", name))

    return task


@st.composite
def graphs(draw: st.DrawFn) -> list[tuple[str, float, frozenset[str]]]:
    n = draw(st.integers(1, 9))
    out = []
    for i in range(n):
        after = draw(st.sets(st.integers(0, i - 1), max_size=3)) if i else set()
        out.append((f"j{i}", draw(st.floats(0, 100)), frozenset(f"j{k}" for k in after)))
    return out


@pytest.fixture(scope="module")
def conninfo(server: str) -> str:
    return server


@settings(max_examples=25, deadline=None)
@given(graphs(), st.integers(1, 3))
def test_jobs_start_after_what_they_wait_for(conninfo: str, graph, workers: int) -> None:
    log: list[tuple[str, str]] = []
    lock = threading.Lock()
    jobs = [Job(n, c, _recorder(log, lock, n), a) for n, c, a in graph]
    pool = Pool(conninfo, workers, {})
    try:
        pool.run_graph(jobs)
    finally:
        pool.close()
    assert sorted(n for kind, n in log if kind == "end") == sorted(n for n, _, _ in graph)
    for name, _, after in graph:
        started = log.index(("start", name))
        for dep in after:
            assert log.index(("end", dep)) < started


def test_one_connection_runs_the_longest_path_first(server: str) -> None:
    log: list[tuple[str, str]] = []
    lock = threading.Lock()
    jobs = [
        Job("short", 5.0, _recorder(log, lock, "short")),
        Job("copy-big", 1.0, _recorder(log, lock, "copy-big")),
        Job("index-big", 10.0, _recorder(log, lock, "index-big"), frozenset({"copy-big"})),
        Job("medium", 8.0, _recorder(log, lock, "medium")),
    ]
    assert priorities(jobs) == {"short": 5.0, "copy-big": 11.0, "index-big": 10.0, "medium": 8.0}
    pool = Pool(server, 1, {})
    try:
        pool.run_graph(jobs)
    finally:
        pool.close()
    assert [n for kind, n in log if kind == "start"] == ["copy-big", "index-big", "medium", "short"]


def test_the_first_error_stops_the_rest(server: str) -> None:
    log: list[tuple[str, str]] = []
    lock = threading.Lock()
    jobs = [Job("bad", 9.0, _recorder(log, lock, "bad", fail=True))]
    jobs += [Job(f"after{i}", 1.0, _recorder(log, lock, f"after{i}")) for i in range(5)]
    jobs.append(Job("dependant", 1.0, _recorder(log, lock, "dependant"), frozenset({"bad"})))
    pool = Pool(server, 2, {})
    started = time.monotonic()
    try:
        with pytest.raises(ValueError, match="bad failed"):
            pool.run_graph(jobs)
    finally:
        pool.close()
    assert ("start", "dependant") not in log
    assert len([1 for kind, _ in log if kind == "start"]) < len(jobs) - 1  # not run to the end
    assert time.monotonic() - started < 5


def test_a_tables_keys_wait_for_both_tables_and_counts_for_every_copy(
    make_db, tmp_path: Path
) -> None:
    """In the load's graph a foreign key's job (adding it locks both tables; validating it
    scans one) starts only after its own table and every set table it references are built
    and analyzed, and after every COPY; each row count after every COPY."""
    set_dir = make_set(tmp_path / "set")
    manifest = read_manifest(set_dir)
    with psycopg.connect(make_db()) as conn:
        saved = catalog.capture(conn.cursor(), [t.qualified for t in manifest.tables])

    def noop(*_a: object) -> Task:
        return lambda conn: None

    jobs = {j.name: j for j in load_jobs(manifest, saved, 1, {}, noop, noop, 2, noop)}
    copies = {name for name in jobs if name.startswith("copy ")}
    in_set = {t.qualified for t in manifest.tables}
    keyed = partial = 0
    for table in manifest.tables:
        key = f"{table.schema_name}.{table.name}"
        assert jobs[f"count {key}"].after == copies
        fks = [c for c in saved.constraints if c.kind == "f" and c.table == table.name]
        if not fks:
            assert f"foreign keys {key}" not in jobs
            continue
        keyed += 1
        targets = {pgtree.referenced(c.definition) for c in fks}
        assert None not in targets
        waits = copies | {f"analyze {s}.{n}" for s, n in targets} | {f"analyze {key}"}
        if not targets <= in_set:  # content_items_all: partitioned, its partitions are tables
            waits = copies | {n for n in jobs if n.startswith("analyze ")}
            partial += 1
        assert jobs[f"foreign keys {key}"].after == waits
        builds = {n for n in jobs if n.startswith(f"build {key}.")}
        assert builds <= jobs[f"analyze {key}"].after  # so the keys wait for the builds too
    assert keyed >= 10 and keyed - partial >= 5  # genonaut: most tables have keys
