"""How long-running work talks to a person or a machine.

Library functions take a ``Reporter`` (or any ``Callable[[str], None]``, wrapped into a plain
one): ``reporter(msg)`` for informational lines, ``reporter.batch(...)`` after each batch of rows,
``reporter.summary(msg, **fields)`` for the closing lines that even ``--quiet`` shows. A summary's
``fields`` (``kind``, ``rows`` per table, ``elapsed``, ``timings``…: plain JSON values) are what
``--log-json`` gives machines, next to the text; people see only the text.

- ``Reporter``: plain lines on stderr, one per batch (what logs and CI see);
- ``QuietReporter``: only summaries;
- ``JsonReporter``: one JSON object per line on stdout (``--log-json``);
- ``TtyReporter``: a rich progress bar per table (rows, MB/s, ETA) when stderr is a terminal.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

Write = Callable[[str], None]


class Reporter:
    """Plain lines; ``verbose`` also shows ``detail`` lines."""

    def __init__(self, write: Write | None = None, *, verbose: bool = False) -> None:
        self.write = write or _stderr
        self.verbose = verbose
        self._lock = threading.Lock()

    def __call__(self, message: str) -> None:
        self.write(message)

    def detail(self, message: str) -> None:
        if self.verbose:
            self.write(message)

    def summary(self, message: str, **fields: Any) -> None:
        """A closing line; ``fields`` hold its numbers for machines (only --log-json shows them)."""
        self.write(message)

    def warning(self, message: str) -> None:
        """Shown even with ``--quiet``: something the user must know (rows left out…)."""
        self.write(f"warning: {message}")

    def batch(
        self, table: str, done: int, total: int, nbytes: int, line: str | None = None
    ) -> None:
        """``done`` of ``total`` rows of ``table``, ``nbytes`` more bytes.

        ``line`` replaces the default log line; ``""`` means no log line for this batch.
        """
        if line == "":
            return
        pct = 100.0 * done / total if total else 100.0
        self.write(line or f"  {table}: {done:,}/{total:,} rows ({pct:.1f}%)")

    def error(self, message: str, hint: str | None) -> None:
        self.write(f"error: {message}")
        if hint:
            self.write(f"hint: {hint}")

    def close(self) -> None:
        return None


class QuietReporter(Reporter):
    def __call__(self, message: str) -> None:
        return None

    def batch(
        self, table: str, done: int, total: int, nbytes: int, line: str | None = None
    ) -> None:
        return None


class JsonReporter(Reporter):
    def __init__(self, stream: TextIO | None = None, *, verbose: bool = False) -> None:
        super().__init__(verbose=verbose)
        self.stream = stream or sys.stdout

    def _emit(self, event: str, **fields: Any) -> None:
        record = {"ts": round(time.time(), 3), "event": event, **fields}
        with self._lock:
            self.stream.write(json.dumps(record) + "\n")
            self.stream.flush()

    def __call__(self, message: str) -> None:
        self._emit("info", message=message)

    def detail(self, message: str) -> None:
        if self.verbose:
            self._emit("detail", message=message)

    def summary(self, message: str, **fields: Any) -> None:
        self._emit("summary", message=message, **fields)

    def warning(self, message: str) -> None:
        self._emit("warning", message=message)

    def batch(
        self, table: str, done: int, total: int, nbytes: int, line: str | None = None
    ) -> None:
        self._emit("batch", table=table, done=done, total=total, bytes=nbytes)

    def error(self, message: str, hint: str | None) -> None:
        self._emit("error", message=message, hint=hint)


class TtyReporter(Reporter):
    """A progress bar per table; other lines printed above the bars."""

    def __init__(self, *, verbose: bool = False) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        super().__init__(verbose=verbose)
        self.progress = Progress(
            TextColumn("{task.description:<20}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows {task.fields[rate]:>9}"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self.tasks: dict[str, Any] = {}
        self.bytes: dict[str, int] = {}
        self.started: dict[str, float] = {}
        self.progress.start()
        self.write = self.progress.console.print

    def batch(
        self, table: str, done: int, total: int, nbytes: int, line: str | None = None
    ) -> None:
        with self._lock:
            if table not in self.tasks:
                self.tasks[table] = self.progress.add_task(table, total=total, rate="")
                self.bytes[table] = 0
                self.started[table] = time.monotonic()
            self.bytes[table] += nbytes
            seconds = max(time.monotonic() - self.started[table], 1e-3)
            rate = f"{self.bytes[table] / seconds / 1e6:.1f} MB/s"
            self.progress.update(self.tasks[table], completed=done, total=total, rate=rate)

    def close(self) -> None:
        self.progress.stop()


def make_reporter(
    *, quiet: bool = False, verbose: bool = False, log_json: bool = False, tty: bool | None = None
) -> Reporter:
    if log_json:
        return JsonReporter(verbose=verbose)
    if quiet:
        return QuietReporter()
    if tty if tty is not None else sys.stderr.isatty():
        return TtyReporter(verbose=verbose)
    return Reporter(verbose=verbose)


def as_reporter(echo: Reporter | Write | None) -> Reporter:
    if isinstance(echo, Reporter):
        return echo
    return Reporter(echo)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
