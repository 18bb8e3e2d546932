"""A fixed set of connections worked by threads: parallel COPY, index builds and ANALYZE.

Each connection gets its own session settings (a ``SET`` on one connection does not reach the
others). Threads suffice: libpq network I/O and pyarrow's CSV writer release the GIL. The first
failing task cancels the statements running on the other connections and is re-raised.

``run`` works a list in order; ``run_graph`` works jobs that wait for others (a table's index
builds wait for its shards' COPY), always picking, among the jobs that may start, the one with
the longest estimated path to the end (its cost plus its longest chain of dependants): the
longest work starts first, and no connection idles while a job could run.
"""

from __future__ import annotations

import contextlib
import heapq
import queue
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass

import psycopg
from psycopg import sql

Task = Callable[[psycopg.Connection], None]


@dataclass(frozen=True)
class Job:
    """A task with an estimated cost (any unit, the same for all jobs of one graph) and the
    names of the jobs that must finish before it starts."""

    name: str
    cost: float
    task: Task
    after: frozenset[str] = frozenset()


def priorities(jobs: list[Job]) -> dict[str, float]:
    """Each job's cost plus the longest chain of jobs waiting on it (its critical path)."""
    dependants: dict[str, list[str]] = {job.name: [] for job in jobs}
    for job in jobs:
        for name in job.after:
            dependants[name].append(job.name)
    by_name = {job.name: job for job in jobs}
    out: dict[str, float] = {}

    def path(name: str) -> float:
        if name not in out:
            out[name] = by_name[name].cost + max((path(d) for d in dependants[name]), default=0.0)
        return out[name]

    for job in jobs:
        path(job.name)
    return out


class Pool:
    def __init__(self, conninfo: str, jobs: int, settings: dict[str, str]) -> None:
        self.jobs = max(1, jobs)
        self.conns: list[psycopg.Connection] = []
        self._free: queue.Queue[psycopg.Connection] = queue.Queue()
        self._stopping = threading.Event()
        try:
            for _ in range(self.jobs):
                conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=10)
                for name, value in settings.items():
                    conn.execute(
                        sql.SQL("SET {} = {}").format(sql.Identifier(name), sql.Literal(value))
                    )
                self.conns.append(conn)
                self._free.put(conn)
        except BaseException:
            self.close()
            raise

    def run(self, tasks: Iterable[Task]) -> None:
        """Run every task on some connection; stop all on the first error and re-raise it."""
        with ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="seedgen") as ex:
            futures = [ex.submit(self._one, task) for task in tasks]
            try:
                done, _ = wait(futures, return_when=FIRST_EXCEPTION)
                failed = [f for f in done if f.exception() is not None]
                if failed:
                    raise failed[0].exception()  # type: ignore[misc]
            except BaseException:
                self._stopping.set()
                for f in futures:
                    f.cancel()
                self.cancel()
                raise

    def run_graph(self, jobs: list[Job]) -> None:
        """Run every job once all its ``after`` jobs are done, longest path first; stop all on
        the first error and re-raise it."""
        prio = priorities(jobs)
        waiting = {job.name: set(job.after) for job in jobs}
        blocks: dict[str, list[Job]] = {}
        ready: list[tuple[float, int, Job]] = []
        for order, job in enumerate(jobs):
            for name in job.after:
                blocks.setdefault(name, []).append(job)
            if not job.after:
                heapq.heappush(ready, (-prio[job.name], order, job))
        order_of = {job.name: order for order, job in enumerate(jobs)}
        left = len(jobs)
        cond = threading.Condition()
        errors: list[BaseException] = []

        def worker() -> None:
            nonlocal left
            while True:
                with cond:
                    while not ready and left and not errors:
                        cond.wait()
                    if errors or not left or self._stopping.is_set():
                        return
                    _, _, job = heapq.heappop(ready)
                try:
                    self._one(job.task)
                except BaseException as exc:
                    with cond:
                        errors.append(exc)
                        cond.notify_all()
                    self._stopping.set()
                    self.cancel()
                    return
                with cond:
                    left -= 1
                    for other in blocks.get(job.name, []):
                        waiting[other.name].discard(job.name)
                        if not waiting[other.name]:
                            heapq.heappush(ready, (-prio[other.name], order_of[other.name], other))
                    cond.notify_all()

        threads = [threading.Thread(target=worker, name=f"seedgen-{i}") for i in range(self.jobs)]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                thread.join()
        except BaseException:  # Ctrl-C while waiting: stop the others, as run() does
            self._stopping.set()
            with cond:
                errors.append(KeyboardInterrupt())
                cond.notify_all()
            self.cancel()
            for thread in threads:
                thread.join()
            raise
        if errors:
            raise errors[0]

    def _one(self, task: Task) -> None:
        if self._stopping.is_set():
            return
        conn = self._free.get()
        try:
            task(conn)
        finally:
            self._free.put(conn)

    def cancel(self) -> None:
        """Cancel whatever the connections are running (their transactions roll back)."""
        for conn in self.conns:
            with contextlib.suppress(psycopg.Error, AttributeError):
                conn.cancel_safe()

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
