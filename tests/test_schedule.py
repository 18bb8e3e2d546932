"""``Pool.run_graph``: every job after the jobs it waits for, longest path first, the first error
stops the rest."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loader.pool import Job, Pool, priorities


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
