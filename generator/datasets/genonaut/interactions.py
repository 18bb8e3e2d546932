"""What users do with content and tags (app.md §3.4-3.8): ``user_interactions``,
``recommendations``, ``tag_ratings``, ``user_search_history``. Each is driven by user rows
(``activity``): a user's rows are a pure function of the user's index.

Rules the schema does not enforce, kept by construction:
- interactions and recommendations name ``content_items`` only (their FK), each item at most once
  per user (so the bookmark list's join on (user, item) never duplicates a bookmark), and only
  items the user can see: public ones, or their own. A recommendation is never of the user's own
  item. Each row is later than both the user and the item.
- ``rating`` only on ``like`` (4-5) and ``rate`` (1-5), ``duration`` only on ``view``;
  ``interaction_metadata`` and ``rec_metadata`` are objects (the response models require it).
- ``served_at`` is set iff ``is_served``, after ``created_at``.
- tag ratings: distinct pool tags per user (popular tags more often), 1.0-5.0 in 0.5 steps,
  ``updated_at >= created_at``, after the user exists.
- search queries: tag names and prompt phrases, popular ones repeated, as the app stores them
  (trimmed, no de-duplication).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from generator import columns as col
from generator.datasets.genonaut import activity
from generator.datasets.genonaut.tagtree import TAG_TREE
from generator.datasets.genonaut.vocabulary import VOCABULARY
from generator.rng import permute

if TYPE_CHECKING:
    from generator.datasets.genonaut.layout import Layout as GenonautDataset

ITEMS = "content_items"
SOURCES = ("gallery", "search", "bookmarks", "dashboard", "image_view")
DEVICES = ("desktop", "mobile", "tablet")
REASONS = ("collaborative_filtering", "genre_similarity", "popular_tags", "similar_prompt")
RATE_WEIGHTS = (5.0, 10.0, 20.0, 35.0, 30.0)  # stars 1-5 given by `rate`
TAG_RATINGS_STRIDE = len(TAG_TREE.leaves)  # ids: user * stride + position


def per_user(ds: GenonautDataset, table: str) -> NDArray[np.int64]:
    """Rows per user of an activity table (capped by the items a user can meet)."""
    s = ds.settings
    mean, cap = {
        "user_interactions": (s.interactions_per_user, ds.n[ITEMS]),
        "recommendations": (s.recommendations_per_user, ds.n[ITEMS]),
        "user_search_history": (s.searches_per_user, 100 * max(1, int(s.searches_per_user))),
    }[table]
    return activity.counts(ds, table, mean, cap)


def _on_items(
    ds: GenonautDataset, table: str, idx: NDArray[np.int64]
) -> dict[str, NDArray[np.int64]]:
    """The (user, item) rows of a user-item table, kept only where the rule of ``table`` holds."""
    user, j, key = activity.explode(per_user(ds, table), idx)
    item = activity.distinct(ds, table, user, j, ds.n[ITEMS])
    creator = ds.creator(ITEMS, item)
    own = creator == user
    keep = ~ds.is_private(ITEMS, item) | own
    if table == "recommendations":
        keep &= ~own
    user, item, key = user[keep], item[keep], key[keep]
    since = np.maximum(ds.completed_at(ITEMS, item), ds.created("users", user))
    return {
        "user": user,
        "item": item,
        "key": key,
        "created": ds.later(table, "created_at", key, since),
    }


def _object(*pairs: tuple[str, pa.Array]) -> pa.StringArray:
    """JSON object text from string-valued columns (values are plain ASCII words)."""
    parts: list[pa.Array | str] = ["{"]
    for i, (name, value) in enumerate(pairs):
        parts += [", " if i else "", f'"{name}": "', value, '"']
    return col.concat(*parts, "}")


def user_interactions(ds: GenonautDataset, idx: NDArray[np.int64]) -> dict[str, pa.Array]:
    t = "user_interactions"
    rows = _on_items(ds, t, idx)
    key, n = rows["key"], len(rows["key"])
    names = list(ds.settings.interaction_type_weights)
    kind = ds.stream(t, "interaction_type").choice(
        key, list(ds.settings.interaction_type_weights.values())
    )
    kind_name = np.asarray(names)[kind] if n else np.asarray([], dtype=str)
    like = ds.stream(t, "rating").integers(key, 4, 5)
    rate = 1 + ds.stream(t, "rating").choice(key, RATE_WEIGHTS, draw=1)
    rating = np.where(kind_name == "like", like, rate)
    rated = np.isin(kind_name, ("like", "rate"))
    duration = ds.stream(t, "duration").integers(key, 3, 600)
    return {
        "id": pa.array((ds.settings.key_offset + 1 + key).astype(np.int32)),
        "user_id": ds.user_ids(rows["user"]),
        "content_item_id": pa.array((rows["item"] + ds.id_offset[ITEMS]).astype(np.int32)),
        "interaction_type": pa.array(kind_name, pa.string()),
        "rating": pa.array(rating.astype(np.int32), mask=~rated),
        "duration": pa.array(duration.astype(np.int32), mask=kind_name != "view"),
        "created_at": col.seconds_to_timestamp(rows["created"]),
        "interaction_metadata": _object(
            (
                "source",
                col.pick(SOURCES, ds.stream(t, "source").integers(key, 0, len(SOURCES) - 1)),
            ),
            ("device", col.pick(DEVICES, ds.stream(t, "device").choice(key, (60.0, 35.0, 5.0)))),
        ),
    }


def recommendations(ds: GenonautDataset, idx: NDArray[np.int64]) -> dict[str, pa.Array]:
    t = "recommendations"
    s = ds.settings
    rows = _on_items(ds, t, idx)
    key, created = rows["key"], rows["created"]
    versions = list(s.algorithm_version_weights)
    version = col.pick(
        versions,
        ds.stream(t, "algorithm_version").choice(key, list(s.algorithm_version_weights.values())),
    )
    served = ds.stream(t, "is_served").bernoulli(key, s.recommendation_served_share)
    reason = col.pick(REASONS, ds.stream(t, "reason").integers(key, 0, len(REASONS) - 1))
    return {
        "id": pa.array((s.key_offset + 1 + key).astype(np.int32)),
        "user_id": ds.user_ids(rows["user"]),
        "content_item_id": pa.array((rows["item"] + ds.id_offset[ITEMS]).astype(np.int32)),
        "recommendation_score": pa.array(np.round(ds.stream(t, "score").uniform(key), 4)),
        "algorithm_version": version,
        "created_at": col.seconds_to_timestamp(created),
        "is_served": pa.array(served),
        "served_at": col.seconds_to_timestamp(ds.later(t, "served_at", key, created), mask=~served),
        "rec_metadata": _object(("reason", reason), ("algorithm", version)),
    }


def tag_ratings(ds: GenonautDataset, idx: NDArray[np.int64]) -> dict[str, pa.Array]:
    t = "tag_ratings"
    off, tag = col.sample_lists(
        ds.stream(t, "tags"),
        idx,
        len(TAG_TREE.leaves),
        0,
        ds.settings.tag_ratings_per_user_max,
        weights=ds.tag_weights,
    )
    per = np.diff(off).astype(np.int64)
    user = np.repeat(idx, per)
    position = np.arange(len(user), dtype=np.int64) - np.repeat(off[:-1].astype(np.int64), per)
    key = user * TAG_RATINGS_STRIDE + position
    tag_row = tag + TAG_TREE.n_categories
    since = np.maximum(ds.created("users", user), ds.created("tags", tag_row))
    created = ds.later(t, "created_at", key, since)
    return {
        "id": pa.array((ds.settings.key_offset + 1 + key).astype(np.int32)),
        "user_id": ds.user_ids(user),
        "tag_id": pc.take(ds.leaf_tag_ids, pa.array(tag)),
        "rating": pa.array(1.0 + 0.5 * ds.stream(t, "rating").integers(key, 0, 8)),
        "created_at": col.seconds_to_timestamp(created),
        "updated_at": col.seconds_to_timestamp(ds.later(t, "updated_at", key, created)),
    }


def search_queries() -> list[str]:
    """What users type into the gallery search: tag names (spaced) and prompt phrases."""
    tags = [name.replace("-", " ") for name in TAG_TREE.leaves]
    return list(dict.fromkeys(tags + list(VOCABULARY.general)))


def user_search_history(ds: GenonautDataset, idx: NDArray[np.int64]) -> dict[str, pa.Array]:
    t = "user_search_history"
    user, _j, key = activity.explode(per_user(ds, t), idx)
    pool = search_queries()
    # Zipf over a keyed order of the pool: a few queries are searched by many users, often
    rank = permute(np.arange(len(pool)), len(pool), ds.stream(t, "popularity").key)
    query = ds.stream(t, "search_query").choice(key, 1.0 / (rank + 1.0))
    created = ds.later(t, "created_at", key, ds.created("users", user))
    return {
        "id": pa.array((ds.settings.key_offset + 1 + key).astype(np.int32)),
        "user_id": ds.user_ids(user),
        "search_query": col.pick(pool, query),
        "created_at": col.seconds_to_timestamp(created),
    }
