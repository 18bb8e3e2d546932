"""The tables the app's background tasks compute, computed from the generated rows instead.

Both are pure functions of the dataset's other pure functions (the tags and creator of every
item), recomputed here for all items; no shard is read. Their definitions are the app's
(``shared/reference/genonaut/app.md`` §3.2-3.3):

- ``tag_cardinality_stats`` (``TagRepository.refresh_tag_cardinality_stats``, daily): one row per
  ``(tag_id, content_source)`` pair present in ``content_tags``, ``cardinality`` = the number of
  distinct items carrying the tag; no row for a zero count; private items count.
- ``gen_source_stats`` (``ContentRepository.refresh_gen_source_stats``, hourly): two community
  rows (``user_id`` NULL) with the total item counts of ``regular`` (content_items) and ``auto``,
  then one row per (creator, source) with at least one item.

``updated_at`` is the window's end: the instant the set describes, as if the tasks ran then.
The community rows and the admin's (the admin is shared by every set) have ids 1-4 in every set,
declared shared keys: ``--append`` keeps the rows already there instead of adding a second
community row (so after an append the stats describe the first set until the app refreshes them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from generator import columns as col

if TYPE_CHECKING:
    from generator.datasets.genonaut.layout import Layout as GenonautDataset

CONTENT_SOURCE = {"content_items": "regular", "content_items_auto": "auto"}
_CHUNK = 32_768  # items per tag-sampling pass (bounds the values array)


def tag_counts(ds: GenonautDataset, table: str, pool: int) -> NDArray[np.int64]:
    """How many items of ``table`` carry each pool tag."""
    counts = np.zeros(pool, dtype=np.int64)
    for start in range(0, ds.n[table], _CHUNK):
        idx = np.arange(start, min(start + _CHUNK, ds.n[table]), dtype=np.int64)
        _off, values = ds.item_tags(table, idx)
        counts += np.bincount(values, minlength=pool)
    return counts


def tag_cardinality_stats(ds: GenonautDataset) -> dict[str, pa.Array]:
    leaf_ids = ds.leaf_tag_ids
    parts = []
    for table, source in CONTENT_SOURCE.items():
        counts = tag_counts(ds, table, len(leaf_ids))
        present = np.flatnonzero(counts)
        parts.append(
            {
                "tag_id": pc.take(leaf_ids, pa.array(present)),
                "content_source": pa.array([source] * len(present), pa.string()),
                "cardinality": pa.array(counts[present].astype(np.int32)),
            }
        )
    out = {k: pa.concat_arrays([p[k] for p in parts]) for k in parts[0]}
    out["updated_at"] = _at_window_end(ds, len(out["tag_id"]))
    return out


def gen_source_stats(ds: GenonautDataset) -> dict[str, pa.Array]:
    names = list(CONTENT_SOURCE.values())
    by_user = np.stack([_per_creator(ds, t) for t in CONTENT_SOURCE], axis=1)  # users x sources
    cells = np.flatnonzero(by_user)  # row-major: by user, then source (the app's order)
    user = np.concatenate([[-1, -1], cells // len(names)])  # -1: community rows, user_id NULL
    source = np.concatenate([[0, 1], cells % len(names)])
    count = np.concatenate([[ds.n[t] for t in CONTENT_SOURCE], by_user.ravel()[cells]])
    n = len(user)
    shared = user <= 0  # community and admin rows: fixed ids 1-4, the same in every set
    ids = np.where(shared, 1 + 2 * (user + 1) + source, 0)
    ids[~shared] = ds.id_offset["gen_source_stats"] + np.arange(int((~shared).sum()))
    return {
        "id": pa.array(ids.astype(np.int32)),
        "user_id": pc.if_else(
            pa.array(user < 0), pa.nulls(n, pa.string()), ds.user_ids(np.maximum(user, 0))
        ),
        "source_type": col.pick(names, source),
        "count": pa.array(count.astype(np.int32)),
        "updated_at": _at_window_end(ds, n),
    }


def _per_creator(ds: GenonautDataset, table: str) -> NDArray[np.int64]:
    """Items of ``table`` per user row."""
    if ds.n[table] == 0:
        return np.zeros(ds.n["users"], dtype=np.int64)
    creators = ds.creator(table, np.arange(ds.n[table], dtype=np.int64))
    return np.bincount(creators, minlength=ds.n["users"])


def _at_window_end(ds: GenonautDataset, n: int) -> pa.Array:
    return col.seconds_to_timestamp(np.full(n, ds.window[1], dtype=np.int64))
