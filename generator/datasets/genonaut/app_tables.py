"""genonaut's app tables (``app_models``) as ``genonaut.yaml``'s table builders: each table's
plan (``declare``: driving rows, fanout, id ranges, shared keys, references, as a ``TableGen``)
and its builder ``f(ds, idx) -> columns`` over driving rows ``idx``, registered as
``genonaut.<table>`` returning a ``BuiltTable`` over the spec's ``Layout`` (``layout_of``), so
``seedgen generate genonaut`` and a standalone copy of the YAML fill them alike.

Integer ids are ``key_offset + 1 + <activity key>`` (dense per table, ``activity``), so sets
appended with distinct ``key_offset`` ranges stay disjoint the same way the other tables do.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from generator.dataset import TableGen
from generator.datasets.genonaut import (
    analytics,
    app_models,
    bookmarks,
    catalog,
    interactions,
    notifications,
    routes,
)
from generator.datasets.genonaut.strategies import layout_of
from generator.datasets.genonaut.tagtree import TAG_TREE
from generator.spec.registry import BuiltTable, register_table
from seedgen.manifest import ReferenceSpec

if TYPE_CHECKING:
    from generator.datasets.genonaut.layout import Layout as GenonautDataset

Builder = Callable[["GenonautDataset", NDArray[np.int64]], dict[str, pa.Array]]

BUILDERS: dict[str, Builder] = {
    "user_interactions": interactions.user_interactions,
    "recommendations": interactions.recommendations,
    "tag_ratings": interactions.tag_ratings,
    "user_search_history": interactions.user_search_history,
    "bookmark_categories": bookmarks.bookmark_categories,
    "bookmarks": bookmarks.bookmarks,
    "bookmark_category_members": bookmarks.bookmark_category_members,
    "user_notifications": notifications.user_notifications,
    "models_checkpoints": catalog.models_checkpoints,
    "models_loras": catalog.models_loras,
    "available_models": catalog.available_models,
    "generation_events": analytics.generation_events,
    "generation_metrics_hourly": lambda ds, _idx: analytics.generation_metrics_hourly(ds),
    "route_analytics": routes.route_analytics,
    "route_analytics_hourly": lambda ds, _idx: routes.route_analytics_hourly(ds),
}


def columns(table: str, skip: frozenset[str] = frozenset()) -> tuple[str, ...]:
    return tuple(c.name for c in getattr(app_models, table).columns if c.name not in skip)


def _ids(ds: GenonautDataset, count: int) -> dict[str, list[int]]:
    first = ds.settings.key_offset + 1
    return {"id": [first, first + count - 1]} if count else {}


def _per_user(
    ds: GenonautDataset, table: str, total: int, expected: float | None = None
) -> TableGen:
    """A table driven by user rows; ``total`` ids reserved, ``expected`` rows (the plan's size)."""
    users = ds.n["users"]
    return TableGen(
        table,
        users,
        columns(table),
        ds.settings.batch_size_default,
        fanout=max(1.0, (total if expected is None else expected) / users),
        exploded=True,
        key_ranges=_ids(ds, total),
    )


def declare(ds: GenonautDataset) -> list[TableGen]:
    per_user = {
        t: int(interactions.per_user(ds, t).sum())
        for t in ("user_interactions", "recommendations", "user_search_history")
    }
    return [
        *(_per_user(ds, t, n) for t, n in per_user.items()),
        _per_user(
            ds,
            "tag_ratings",
            ds.n["users"] * len(TAG_TREE.leaves),
            expected=ds.n["users"] * ds.settings.tag_ratings_per_user_max / 2,
        ),
        *_bookmark_tables(ds),
        TableGen(
            "user_notifications",
            ds.n_jobs,
            columns("user_notifications"),
            ds.settings.batch_size_default,
            # at most one per job; about the items' jobs of the notified share of users
            fanout=ds.settings.notification_user_share * ds.n["content_items"] / max(1, ds.n_jobs),
            exploded=True,
            key_ranges=_ids(ds, ds.n_jobs),
        ),
        *_catalog_tables(ds),
        *_analytics_tables(ds),
    ]


def _analytics_tables(ds: GenonautDataset) -> list[TableGen]:
    batch, requests = ds.settings.batch_size_default, ds.settings.route_analytics_rows
    hours = max(1, (ds.window[1] - ds.window[0]) // analytics.HOUR + 1)
    return [
        TableGen(
            "generation_events",
            ds.n_jobs,
            columns("generation_events", frozenset({"generation_id"})),
            batch,
            fanout=2.0,
            exploded=True,
            key_ranges=_ids(ds, 2 * ds.n_jobs),
            # user_id has no FK in the app's schema
            references=(ReferenceSpec(columns=["user_id"], table="users", parent_columns=["id"]),),
        ),
        TableGen(
            "generation_metrics_hourly",
            1,
            columns("generation_metrics_hourly"),
            batch,
            fanout=float(hours),
            exploded=True,
            key_ranges=_ids(ds, hours),
        ),
        TableGen(
            "route_analytics",
            requests,
            columns("route_analytics"),
            batch,
            key_ranges=_ids(ds, requests),
        ),
        TableGen(
            "route_analytics_hourly",
            1,
            columns("route_analytics_hourly"),
            batch,
            fanout=float(max(1, requests)),
            exploded=True,
            key_ranges=_ids(ds, requests),
        ),
    ]


def _bookmark_tables(ds: GenonautDataset) -> list[TableGen]:
    users, marks = ds.n["users"], int(bookmarks.per_user(ds).sum())
    fanout = {
        "bookmark_categories": 1 + ds.settings.bookmark_categories_max / 2,
        "bookmarks": marks / users,
        "bookmark_category_members": 1.3 * marks / users,
    }
    return [
        TableGen(
            t,
            users,
            columns(t, bookmarks.LEFT_NULL.get(t, frozenset())),
            ds.settings.batch_size_default,
            fanout=max(1.0, f),
            exploded=True,
            omit=tuple(sorted(bookmarks.LEFT_NULL.get(t, ()))),
        )
        for t, f in fanout.items()
    ]


def _catalog_tables(ds: GenonautDataset) -> list[TableGen]:
    sizes = {
        "models_checkpoints": [catalog.model_id("checkpoint", c[0]) for c in catalog.CHECKPOINTS],
        "models_loras": [catalog.model_id("lora", c[0]) for c in catalog.LORAS],
        "available_models": [str(i + 1) for i in range(catalog.N_AVAILABLE)],
    }
    return [
        TableGen(t, len(keys), columns(t), ds.settings.batch_size_default, shared_keys=tuple(keys))
        for t, keys in sizes.items()
    ]


# ------------------------------------------------------------- as genonaut.yaml's table builders

_DECLARED: weakref.WeakKeyDictionary[Any, dict[str, TableGen]] = weakref.WeakKeyDictionary()


def _declared(ds: GenonautDataset) -> dict[str, TableGen]:
    """``declare(ds)`` once per layout (every app table's builder asks for its own entry)."""
    if ds not in _DECLARED:
        _DECLARED[ds] = {t.name: t for t in declare(ds)}
    return _DECLARED[ds]


def _register(table: str) -> None:
    @register_table(f"genonaut.{table}")
    def factory(params: dict[str, Any], ctx: Any) -> BuiltTable:
        ds = layout_of(ctx)
        plan = _declared(ds)[table]
        build = BUILDERS[table]
        return BuiltTable(
            lambda idx: build(ds, idx),
            rows=plan.rows,
            fanout=plan.fanout if plan.exploded else None,
            key_ranges=plan.key_ranges,
            shared_keys=plan.shared_keys,
            references=plan.references,
            omit=plan.omit,
        )


for _table in BUILDERS:
    _register(_table)
