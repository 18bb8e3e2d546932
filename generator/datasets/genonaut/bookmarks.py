"""Bookmarks, their categories and memberships (app.md §3.9-3.11), driven per user.

A user with bookmarks has the ``Uncategorized`` root the app creates with the first bookmark
(``sort_index`` 0, private) plus 0..``bookmark_categories_max`` named roots; every live bookmark is
in one category (``Uncategorized`` or a root) and sometimes a second root, as the app's fixtures
show. Bookmarks are distinct (user, item) pairs over both partitions, only items the user can see;
``added_at`` is after both the bookmark and the category; ``position`` is 0-based within the
category. Rules the composite FKs enforce (member, bookmark and category of the same user) hold
because all three are computed from the same user row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from generator import columns as col
from generator.datasets.genonaut import activity

if TYPE_CHECKING:
    from generator.datasets.genonaut.layout import Layout as GenonautDataset

NAMES = ("Favorites", "Landscapes", "Portraits", "Abstract", "Nature", "Characters",
         "Architecture", "Inspiration", "Wallpapers", "Sci-fi", "Fantasy", "To print")  # fmt: skip
COLORS = ("#FF5733", "#2ECC71", "#3498DB", "#9B59B6", "#27AE60", "#1ABC9C")
ICONS = ("star", "camera", "leaf", "heart", "folder")
NOTES = ("love the colors", "reference for my next piece", "great composition", "use as wallpaper")
#: Columns no row sets, left out of the set (the database's NULL): categories are not nested
#: and have no cover; the set then carries no self-reference, which ``--append`` cannot follow.
LEFT_NULL = {
    "bookmark_categories": frozenset({"parent_id", "cover_content_id", "cover_content_source_type"})
}
SLOTS = 64  # category ids: user * SLOTS + slot
UTC = pa.timestamp("us", tz="UTC")
DAY = 86_400


def per_user(ds: GenonautDataset) -> NDArray[np.int64]:
    return activity.counts(ds, "bookmarks", ds.settings.bookmarks_per_user, ds.n_content)


def roots(
    ds: GenonautDataset, users: NDArray[np.int64]
) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
    """Named root categories per user: (offsets, name indexes), distinct per user."""
    cap = min(ds.settings.bookmark_categories_max, len(NAMES))
    return col.sample_lists(ds.stream("bookmark_categories", "names"), users, len(NAMES), 0, cap)


def _tz(seconds: NDArray[np.int64], mask: NDArray[np.bool_] | None = None) -> pa.Array:
    return col.seconds_to_timestamp(seconds, mask).cast(UTC)


def category_created(
    ds: GenonautDataset, user: NDArray[np.int64], slot: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Within a day of the user's sign-up."""
    key = user * SLOTS + slot
    return ds.created("users", user) + ds.stream("bookmark_categories", "created_at").integers(
        key, 0, DAY
    )


def bookmark_categories(ds: GenonautDataset, idx: NDArray[np.int64]) -> dict[str, pa.Array]:
    t = "bookmark_categories"
    users = idx[per_user(ds)[idx] > 0]
    off, name = roots(ds, users)
    n_roots = np.diff(off).astype(np.int64)
    user = np.repeat(users, n_roots + 1)
    first = np.repeat(np.cumsum(n_roots + 1) - (n_roots + 1), n_roots + 1)
    slot = np.arange(len(user), dtype=np.int64) - first
    named = slot > 0
    name_idx = np.zeros(len(user), dtype=np.int64)
    name_idx[named] = name
    key = user * SLOTS + slot
    public = ds.stream(t, "is_public").bernoulli(key, 0.2) & named
    created = category_created(ds, user, slot)
    space = col.uuid_key_space(ds.settings.seed, t)
    return {
        "id": col.uuid4_strings(space, key),
        "user_id": ds.user_ids(user),
        "name": pa.array(
            np.where(named, np.asarray(NAMES)[name_idx], "Uncategorized"), pa.string()
        ),
        "description": pa.array(
            np.where(named, "", "Default category for uncategorized bookmarks"), pa.string()
        ),
        "color_hex": col.pick(COLORS, ds.stream(t, "color").integers(key, 0, len(COLORS) - 1)),
        "icon": col.pick(ICONS, ds.stream(t, "icon").integers(key, 0, len(ICONS) - 1)),
        "sort_index": pa.array(slot.astype(np.int32)),
        "is_public": pa.array(public),
        "share_token": _share_tokens(ds, key, public),
        "created_at": _tz(created),
        "updated_at": _tz(created + ds.stream(t, "updated_at").integers(key, 0, DAY)),
    }


def _share_tokens(
    ds: GenonautDataset, key: NDArray[np.int64], public: NDArray[np.bool_]
) -> pa.Array:
    tokens = col.uuid4_strings(col.uuid_key_space(ds.settings.seed, "share_token"), key)
    return pa.array(tokens.to_numpy(zero_copy_only=False).tolist(), pa.string(), mask=~public)


def _bookmarks(ds: GenonautDataset, idx: NDArray[np.int64]) -> dict[str, NDArray[np.int64]]:
    t = "bookmarks"
    user, j, key = activity.explode(per_user(ds), idx)
    item = activity.distinct(ds, t, user, j, ds.n_content)
    n_items = ds.n["content_items"]
    auto = item >= n_items
    row = np.where(auto, item - n_items, item)
    creator = np.empty(len(item), dtype=np.int64)
    private = np.empty(len(item), dtype=bool)
    born = np.empty(len(item), dtype=np.int64)
    for table, sel in (("content_items", ~auto), ("content_items_auto", auto)):
        creator[sel] = ds.creator(table, row[sel])
        private[sel] = ds.is_private(table, row[sel])
        born[sel] = ds.completed_at(table, row[sel])
    keep = ~private | (creator == user)
    user, key, item, auto = user[keep], key[keep], item[keep], auto[keep]
    since = np.maximum(born[keep], ds.created("users", user))
    created = ds.later(t, "created_at", key, since)
    return {
        "user": user,
        "key": key,
        "item": item,
        "auto": auto.astype(np.int64),
        "created": created,
    }


def bookmarks(ds: GenonautDataset, idx: NDArray[np.int64]) -> dict[str, pa.Array]:
    t = "bookmarks"
    b = _bookmarks(ds, idx)
    key, created = b["key"], b["created"]
    has_note = ds.stream(t, "note").bernoulli(key, 0.3)
    note = col.pick(NOTES, ds.stream(t, "note").integers(key, 0, len(NOTES) - 1, draw=1))
    return {
        "id": col.uuid4_strings(col.uuid_key_space(ds.settings.seed, t), key),
        "user_id": ds.user_ids(b["user"]),
        "content_id": pa.array(b["item"] + ds.id_offset["content_items"]),
        "content_source_type": col.pick(("items", "auto"), b["auto"]),
        "note": pa.array(note.to_pylist(), pa.string(), mask=~has_note),
        "pinned": pa.array(ds.stream(t, "pinned").bernoulli(key, 0.1)),
        "is_public": pa.array(ds.stream(t, "is_public").bernoulli(key, 0.5)),
        "created_at": _tz(created),
        "updated_at": _tz(created + ds.stream(t, "updated_at").integers(key, 0, 3600)),
    }


def bookmark_category_members(ds: GenonautDataset, idx: NDArray[np.int64]) -> dict[str, pa.Array]:
    t = "bookmark_category_members"
    b = _bookmarks(ds, idx)
    user, key = b["user"], b["key"]
    n_roots = np.zeros(ds.n["users"], dtype=np.int64)
    off, _names = roots(ds, idx)
    n_roots[idx] = np.diff(off)
    r = n_roots[user]
    first = ds.stream(t, "category").integers(key, 0, 2**31) % (r + 1)  # 0 = Uncategorized
    second_ok = ds.stream(t, "second").bernoulli(key, 0.3) & (r >= 2) & (first > 0)
    shift = 1 + ds.stream(t, "second_slot").integers(key, 0, 2**31) % np.maximum(r - 1, 1)
    second = 1 + (first - 1 + shift) % np.maximum(r, 1)
    m_user = np.concatenate([user, user[second_ok]])
    m_key = np.concatenate([key, key[second_ok]])
    m_slot = np.concatenate([first, second[second_ok]])
    m_created = np.concatenate([b["created"], b["created"][second_ok]])
    order = np.lexsort((m_key, m_slot, m_user))
    m_user, m_key, m_slot, m_created = m_user[order], m_key[order], m_slot[order], m_created[order]
    group = np.concatenate([[True], (m_user[1:] != m_user[:-1]) | (m_slot[1:] != m_slot[:-1])])
    starts = np.flatnonzero(group)
    position = np.arange(len(m_user)) - np.repeat(starts, np.diff(np.append(starts, len(m_user))))
    since = np.maximum(m_created, category_created(ds, m_user, m_slot))
    added = since + ds.stream(t, "added_at").integers(m_key * SLOTS + m_slot, 0, 600)
    return {
        "bookmark_id": col.uuid4_strings(col.uuid_key_space(ds.settings.seed, "bookmarks"), m_key),
        "category_id": col.uuid4_strings(
            col.uuid_key_space(ds.settings.seed, "bookmark_categories"), m_user * SLOTS + m_slot
        ),
        "user_id": ds.user_ids(m_user),
        "position": pa.array(position.astype(np.int32)),
        "added_at": _tz(added),
    }
