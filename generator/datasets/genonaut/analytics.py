"""The analytics tables (app.md §1.14, §3.16-3.19) and their hourly aggregates.

- ``generation_events``: per job, the ``request`` event when it was created and, once it ended, a
  ``completion`` (``success`` true with ``duration_ms`` = run time, or false with an ``error_type``)
  or a ``cancellation``; pending jobs have only the request. ``generation_type`` ``comfyui`` (the
  only path that emits events), ``generation_id`` NULL (the column is a UUID, jobs have integer
  ids), ``user_id`` = the job's user, model/dimensions/batch = the job's.
- ``route_analytics``: ``route_analytics_rows`` API requests over the window, the frontend's own
  mix (notification poll, gallery, tags, search history, images with 404s, CORS pre-flights);
  ``user_id`` NULL as the frontend sends no ``X-User-ID``.
- ``generation_metrics_hourly`` / ``route_analytics_hourly``: what the worker's hourly
  aggregations compute over those rows (one row per hour / per (hour, route, method, normalized
  query) with rows; percentiles ``percentile_cont`` cast to int; ``created_at`` = the run after the
  hour). Built from all rows at once (``route_analytics_rows`` and the jobs bound the memory).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from generator import columns as col
from generator.datasets.genonaut import activity, jobs

if TYPE_CHECKING:
    from generator.datasets.genonaut.layout import Layout as GenonautDataset

UTC = pa.timestamp("us", tz="UTC")
REQUEST, COMPLETION, CANCELLATION = 0, 1, 2
EVENT_TYPES = ("request", "completion", "cancellation")
ERROR_TYPE = "ComfyUIConnectionError"
ERROR_MESSAGE = "Failed to connect to ComfyUI at http://localhost:8188"
_CHUNK = 50_000
HOUR = 3600


def _seconds(ts: pa.Array) -> NDArray[np.int64]:
    return np.asarray(ts.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)) // 1_000_000


def events(ds: GenonautDataset, idx: NDArray[np.int64]) -> dict[str, Any]:
    """The events of job rows ``idx`` as numpy/arrow columns (``generation_events`` minus text)."""
    rows = jobs.generation_jobs(activity.without_prompts(ds), idx)
    s = ds.settings
    status = rows["status"].to_numpy(zero_copy_only=False)
    ended = np.select(
        [
            status == s.stored_status("completed"),
            status == s.stored_status("error"),
            status == s.stored_status("canceled"),
        ],
        [1, 2, 3],
        0,
    )  # 0 pending, 1 success, 2 failure, 3 cancellation
    has_end = ended > 0
    job = np.concatenate([idx, idx[has_end]])
    k = np.concatenate([np.zeros(len(idx), np.int64), np.ones(int(has_end.sum()), np.int64)])
    pick = np.concatenate([np.arange(len(idx)), np.flatnonzero(has_end)])
    order = np.lexsort((k, job))
    job, k, pick = job[order], k[order], pick[order]
    created, done = _seconds(rows["created_at"]), _seconds(rows["completed_at"])
    end = ended[pick]
    kind = np.where(k == 0, REQUEST, np.where(end == 3, CANCELLATION, COMPLETION))
    at = np.where(k == 0, created[pick], done[pick])
    success = np.where(end == 1, True, False)
    duration = np.where(end == 1, (done[pick] - created[pick]) * 1000, 0)
    take = pa.array(pick)
    return {
        "id": (s.key_offset + 1 + 2 * job + k).astype(np.int64),
        "kind": kind,
        "at": at,
        "success": success,
        "success_mask": kind != COMPLETION,
        "duration": duration.astype(np.int32),
        "user_id": pc.take(rows["user_id"], take),
        "checkpoint": pc.take(rows["checkpoint_model"], take),
        "width": pc.take(rows["width"], take),
        "height": pc.take(rows["height"], take),
        "batch": pc.take(rows["batch_size"], take),
    }


_NO_TEXT = pa.scalar(None, pa.string())


def generation_events(ds: GenonautDataset, idx: NDArray[np.int64]) -> dict[str, pa.Array]:
    e = events(ds, idx)
    kind, at = np.asarray(e["kind"]), np.asarray(e["at"])
    completion = kind == COMPLETION
    failed = completion & ~np.asarray(e["success"])
    stamp = col.seconds_to_timestamp(at).cast(UTC)
    dims = col.concat(
        '{"width": ', pc.cast(e["width"], pa.string()), ', "height": ',
        pc.cast(e["height"], pa.string()), "}",
    )  # fmt: skip
    return {
        "id": pa.array(e["id"]),
        "event_type": col.pick(EVENT_TYPES, kind),
        "user_id": e["user_id"],
        "timestamp": stamp,
        "generation_type": col.pick(["comfyui"], np.zeros(len(kind), np.int64)),
        "duration_ms": pa.array(np.asarray(e["duration"]), mask=~completion),
        "success": pa.array(np.asarray(e["success"]), mask=~completion),
        "error_type": pc.if_else(pa.array(failed), ERROR_TYPE, _NO_TEXT),
        "error_message": pc.if_else(pa.array(failed), ERROR_MESSAGE, _NO_TEXT),
        "model_checkpoint": e["checkpoint"],
        "image_dimensions": dims,
        "batch_size": e["batch"],
        "created_at": stamp,
    }


def group_stats(
    values: NDArray[np.int64], group: NDArray[np.int64], n_groups: int
) -> dict[str, pa.Array]:
    """Per group: ``AVG(v)::int`` and ``percentile_cont(p) WITHIN GROUP (ORDER BY v)::int`` for p
    = 0.5, 0.95, 0.99, as PostgreSQL computes them (NULL for a group without values).

    AVG of integers is numeric, and numeric -> int rounds half away from zero (exact here, in
    integers; values are >= 0). percentile_cont interpolates ``v[lo] + f * (v[lo+1] - v[lo])`` at
    ``p * (n - 1)`` in float8, and float8 -> int rounds half to even (``rint``)."""
    order = np.lexsort((values, group))
    v = values[order].astype(np.int64)
    counts = np.bincount(group, minlength=n_groups).astype(np.int64)
    starts = np.cumsum(counts) - counts
    empty = counts == 0
    safe = np.maximum(counts, 1)
    sums = np.zeros(n_groups, dtype=np.int64)
    np.add.at(sums, group, values.astype(np.int64))
    out = {"avg": pa.array(((2 * sums + safe) // (2 * safe)).astype(np.int32), mask=empty)}
    last = len(v) - 1
    for name, p in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        pos = p * (safe - 1).astype(np.float64)
        lo = np.floor(pos).astype(np.int64)
        a = v[np.minimum(starts + lo, last)] if len(v) else np.zeros(n_groups, np.int64)
        b = v[np.minimum(starts + np.minimum(lo + 1, safe - 1), last)] if len(v) else a
        value = a + (pos - lo) * (b - a)
        out[name] = pa.array(np.rint(value).astype(np.int32), mask=empty)
    return out


def generation_metrics_hourly(ds: GenonautDataset) -> dict[str, pa.Array]:
    chunks = range(0, max(ds.n_jobs, 1), _CHUNK)  # one empty chunk when there are no jobs
    parts = [events(ds, np.arange(a, min(a + _CHUNK, ds.n_jobs))) for a in chunks]
    kind = np.concatenate([p["kind"] for p in parts])
    hours, group = np.unique(np.concatenate([p["at"] for p in parts]) // HOUR, return_inverse=True)
    n = len(hours)
    success = np.concatenate([p["success"] for p in parts])
    duration = np.concatenate([p["duration"] for p in parts]).astype(np.int64)
    batch = np.concatenate([np.asarray(p["batch"].fill_null(1)) for p in parts]).astype(np.int64)
    users = pc.dictionary_encode(pa.concat_arrays([p["user_id"] for p in parts])).indices
    done = kind == COMPLETION
    pairs = np.unique(group * (len(users) + 1) + np.asarray(users).astype(np.int64))

    def count(mask: NDArray[np.bool_], weights: NDArray[np.int64] | None = None) -> pa.Array:
        w = None if weights is None else weights[mask]
        return pa.array(np.bincount(group[mask], w, minlength=n).astype(np.int32))

    stats = group_stats(duration[done], group[done], n)
    start = hours.astype(np.int64) * HOUR
    return {
        "id": pa.array(ds.settings.key_offset + 1 + np.arange(n, dtype=np.int64)),
        "timestamp": col.seconds_to_timestamp(start).cast(UTC),
        "total_requests": count(kind == REQUEST),
        "successful_generations": count(done & success),
        "failed_generations": count(done & ~success),
        "cancelled_generations": count(kind == CANCELLATION),
        "avg_duration_ms": stats["avg"],
        "p50_duration_ms": stats["p50"],
        "p95_duration_ms": stats["p95"],
        "p99_duration_ms": stats["p99"],
        "unique_users": pa.array(
            np.bincount(pairs // (len(users) + 1), minlength=n).astype(np.int32)
        ),
        "total_images_generated": count(done & success, batch),
        "created_at": col.seconds_to_timestamp(start + HOUR + 7 * 60).cast(UTC),
    }
