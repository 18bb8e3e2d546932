"""A fixed set of connections worked by threads: parallel COPY, index builds and ANALYZE.

Each connection gets its own session settings (a ``SET`` on one connection does not reach the
others). Threads suffice: libpq network I/O and pyarrow's CSV writer release the GIL. The first
failing task cancels the statements running on the other connections and is re-raised.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

import psycopg
from psycopg import sql

Task = Callable[[psycopg.Connection], None]


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
