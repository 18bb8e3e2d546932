"""``route_analytics`` and ``route_analytics_hourly`` (app.md §3.18-3.19).

Requests are the frontend's own mix (the demo's first rows: the notification poll dominates, then
tags, search history, the user, the gallery; image requests often 404; ``/api/v1/tags`` without
the slash answers 307; CORS pre-flights as ``OPTIONS``). ``route`` is the raw path, ids included;
``query_params`` an object of string values and ``query_params_normalized`` the same without
``page``/``offset``/``limit``/``cursor``; ``user_id`` NULL (the frontend sends no ``X-User-ID``).
The hourly table is the worker's aggregation over exactly these rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from generator import columns as col
from generator.datasets.genonaut import analytics

if TYPE_CHECKING:
    from generator.datasets.genonaut.layout import Layout as GenonautDataset

T = "route_analytics"
#: weight, route (``{user}`` / ``{item}`` filled per row), query params, normalized, status mix
_U = '{"user_id": "{user}"}'
ROUTES = (
    (30.0, "/api/v1/notifications/unread/count", _U, _U),
    (15.0, "/api/v1/content/unified", '{"page": "{page}", "page_size": "25"}',
     '{"page_size": "25"}'),
    (12.0, "/api/v1/tags/", "{}", "{}"),
    (3.0, "/api/v1/tags", "{}", "{}"),
    (10.0, "/api/v1/users/{user}/search-history", '{"page": "1", "page_size": "5"}',
     '{"page_size": "5"}'),
    (10.0, "/api/v1/users/{user}", "{}", "{}"),
    (12.0, "/api/v1/images/{item}", "{}", "{}"),
    (5.0, "/api/v1/bookmarks/check-batch", "{}", "{}"),
    (3.0, "/api/v1/generation-jobs/", _U, _U),
)  # fmt: skip
OPTIONS_SHARE = 0.15


def _split(template: str) -> tuple[str, str, str]:
    """(prefix, placeholder, suffix); every template has at most one placeholder."""
    for name in ("{user}", "{item}", "{page}"):
        if name in template:
            head, tail = template.split(name, 1)
            return head, name, tail
    return template, "", ""


def _fill(templates: list[str], which: NDArray[np.int64], values: dict[str, pa.Array]) -> pa.Array:
    parsed = [_split(t) for t in templates]
    names = np.asarray([p[1] for p in parsed])[which]
    value: pa.Array = pa.array([""] * len(which), pa.string())
    for name, arr in values.items():
        value = pc.if_else(pa.array(names == name), arr, value)
    prefix = col.pick([p[0] for p in parsed], which)
    return col.concat(prefix, value, col.pick([p[2] for p in parsed], which))


def route_analytics(ds: GenonautDataset, idx: NDArray[np.int64]) -> dict[str, pa.Array]:
    which = ds.stream(T, "route").choice(idx, [r[0] for r in ROUTES])
    user = ds.user_ids(ds.stream(T, "user").integers(idx, 0, ds.n["users"] - 1))
    item = pc.cast(
        pa.array(
            ds.stream(T, "item").integers(idx, 0, ds.n_content - 1) + ds.id_offset["content_items"]
        ),
        pa.string(),
    )
    page = pc.cast(
        pa.array(1 + ds.stream(T, "page").choice(idx, [50.0, 25.0, 12.0, 8.0, 5.0])), pa.string()
    )
    values = {"{user}": user, "{item}": item, "{page}": page}
    route, params, normalized = (
        _fill([str(r[k]) for r in ROUTES], which, values) for k in (1, 2, 3)
    )
    options = ds.stream(T, "method").bernoulli(idx, OPTIONS_SHARE)
    image = np.asarray([r[1] for r in ROUTES])[which] == "/api/v1/images/{item}"
    missing = image & ds.stream(T, "status").bernoulli(idx, 0.5)
    failed = ds.stream(T, "status").bernoulli(idx, 0.005, draw=1)
    status = np.where(options, 200, np.where(which == 3, 307, np.where(missing, 404, 200)))
    status = np.where(failed & ~options, 500, status)
    duration = np.floor(np.exp(ds.stream(T, "duration").uniform(idx) * 6.5)).astype(np.int64)
    at = ds.in_window(T, "timestamp", idx)
    size = 200 + ds.stream(T, "response_size").integers(idx, 0, 20_000)
    error = np.where(status >= 500, 2, np.where(status >= 400, 1, 0))
    return {
        "id": pa.array(ds.settings.key_offset + 1 + idx),
        "route": route,
        "method": pa.array(np.where(options, "OPTIONS", "GET"), pa.string()),
        "timestamp": col.seconds_to_timestamp(at),
        "duration_ms": pa.array(duration.astype(np.int32)),
        "status_code": pa.array(status.astype(np.int16)),
        "query_params": params,
        "query_params_normalized": normalized,
        "response_size_bytes": pa.array(size.astype(np.int32), mask=options),
        "error_type": pc.take(pa.array([None, "client_error", "server_error"], pa.string()), error),
        "created_at": col.seconds_to_timestamp(at),
    }


def route_analytics_hourly(ds: GenonautDataset) -> dict[str, pa.Array]:
    n = ds.settings.route_analytics_rows
    rows = route_analytics(ds, np.arange(n, dtype=np.int64))
    hour = _secs(rows["timestamp"]) // analytics.HOUR
    key = col.concat(
        pc.cast(pa.array(hour), pa.string()), "\x1f", rows["route"], "\x1f", rows["method"],
        "\x1f", rows["query_params_normalized"],
    )  # fmt: skip
    encoded = pc.dictionary_encode(key)
    group = np.asarray(encoded.indices).astype(np.int64)
    n_groups = len(encoded.dictionary)
    order = np.argsort(group, kind="stable")
    starts = np.flatnonzero(np.diff(group[order], prepend=-1))
    status = np.asarray(rows["status_code"]).astype(np.int64)
    duration = np.asarray(rows["duration_ms"]).astype(np.int64)
    stats = analytics.group_stats(duration, group, n_groups)
    size = rows["response_size_bytes"]
    has_size = np.asarray(size.is_valid())
    sizes = np.asarray(size.fill_null(0)).astype(np.int64)
    size_avg = analytics.group_stats(sizes[has_size], group[has_size], n_groups)["avg"]
    first = pa.array(order[starts])
    bucket = hour[order[starts]] * analytics.HOUR
    counts = {
        "total_requests": np.ones(n, np.int64),
        "successful_requests": (status >= 200) & (status < 300),
        "client_errors": (status >= 400) & (status < 500),
        "server_errors": status >= 500,
    }
    zeros = pa.array(np.zeros(len(starts), np.int32))
    return {
        "id": pa.array(ds.settings.key_offset + 1 + np.arange(len(starts), dtype=np.int64)),
        "timestamp": col.seconds_to_timestamp(bucket),
        "route": pc.take(rows["route"], first),
        "method": pc.take(rows["method"], first),
        "query_params_normalized": pc.take(rows["query_params_normalized"], first),
        **{
            name: pa.array(np.add.reduceat(v.astype(np.int64)[order], starts).astype(np.int32))
            for name, v in counts.items()
        },
        "avg_duration_ms": stats["avg"],
        "p50_duration_ms": stats["p50"],
        "p95_duration_ms": stats["p95"],
        "p99_duration_ms": stats["p99"],
        "unique_users": zeros,
        "avg_response_size_bytes": size_avg,
        "cache_hits": zeros,
        "cache_misses": zeros,
        "created_at": col.seconds_to_timestamp(bucket + analytics.HOUR + 5 * 60),
    }


def _secs(ts: pa.Array) -> NDArray[np.int64]:
    return np.asarray(ts.cast(pa.int64())) // 1_000_000
