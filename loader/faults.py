"""Fail points for crash tests: ``SEEDGEN_FAILPOINT=<name>[:<n>]`` SIGKILLs the loader there.

Unset (always, outside tests) this costs two dictionary lookups per call. ``<n>`` makes the
point fire on its n-th hit (default 1), e.g. ``copy-batch:3`` dies inside the third COPY batch.
``SEEDGEN_FAILPOINT_TRACE=<file>`` appends the name of every point passed, one per line, so a
test can list every place (and hit count) an uninterrupted run offers to kill it at.
"""

from __future__ import annotations

import os
import signal
import threading

_hits: dict[str, int] = {}
_lock = threading.Lock()


def point(name: str) -> None:
    trace = os.environ.get("SEEDGEN_FAILPOINT_TRACE")
    if trace:
        with _lock, open(trace, "a", encoding="utf-8") as out:
            out.write(name + "\n")
    spec = os.environ.get("SEEDGEN_FAILPOINT")
    if not spec:
        return
    target, _, nth = spec.partition(":")
    if target != name:
        return
    with _lock:
        _hits[name] = _hits.get(name, 0) + 1
        if _hits[name] >= int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)
