"""Fail points for crash tests: ``SEEDGEN_FAILPOINT=<name>[:<n>]`` SIGKILLs the loader there.

Unset (always, outside tests) this costs one dictionary lookup per call. ``<n>`` makes the
point fire on its n-th hit (default 1), e.g. ``copy-batch:3`` dies inside the third COPY batch.
"""

from __future__ import annotations

import os
import signal
import threading

_hits: dict[str, int] = {}
_lock = threading.Lock()


def point(name: str) -> None:
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
