"""The genonaut layout: sizes, key offsets and the shared pure functions every genonaut table is
computed from (the ``ds`` of ``jobs``, ``derived`` and the strategies in ``strategies``).

A ``Layout`` is built from the genonaut settings and the resolved context (the admin UUID), in
the parent process and again in each worker; everything on it is a pure function of (seed,
table, column, row index). Row layouts (all indexes are 0-based row numbers):

- users: row 0 is the admin (id from ``DB_USER_ADMIN_UUID``); rows 1.. are generated.
- tags: the app's 127 hierarchy tags (26 categories, then the 101 pool tags; ``tagtree``), ids
  by the app's rule (uuid5 of the slug), the same in every set; tag_parents: its 129 edges.
- content_items: ids ``C+K..C+K+N-1``; content_items_auto: ids ``C+K+N..C+K+N+M-1`` (disjoint,
  int4), where ``C`` is ``content_id_start`` (3,000,000: the app's own content sequence starts
  there) and ``K`` is ``key_offset`` (0 by default; sets appended to one database need disjoint K).
- generation_jobs (``jobs``): rows ``[0, N)`` complete the items, ``[N, N+M)`` the auto items,
  then the extra, never-completed jobs; ids are ``J + K + row`` with ``J = job_id_start``.
- content_tags: exploded from the items then the auto items (driving row = item row).

Every FK is recomputed from the parent's row index (``creator`` of item i, the tag indexes of
item i), never looked up.
"""

from __future__ import annotations

from datetime import UTC
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from generator import columns as col
from generator.datasets.genonaut.settings import GenonautSettings
from generator.datasets.genonaut.tagtree import TAG_TREE
from generator.datasets.genonaut.vocabulary import VOCABULARY
from generator.rng import Stream, permute
from generator.text import TemplateSet

STYLES = ("anime", "illustration", "photorealistic")
RESOLUTIONS = (
    "1024x768",
    "1280x720",
    "1920x1080",
    "2560x1440",
    "3840x2160",
    "1024x1024",
    "2048x2048",
    "768x1024",
    "1080x1920",
)
_SIZES = tuple(np.array([int(r.split("x")[k]) for r in RESOLUTIONS]) for k in (0, 1))
SOURCES = {"content_items": ("items", "regular"), "content_items_auto": ("auto", "auto")}
CONTENT = tuple(SOURCES)


class Layout:
    """Sizes and pure functions of one genonaut set (settings + context)."""

    def __init__(self, settings: GenonautSettings, context: dict[str, Any]) -> None:
        self.settings = settings
        self.context = context
        # The dataset's spec ``Generator`` (set by ``GenonautDataset``): the app tables
        # re-evaluate job rows through it (``jobs.generation_jobs``).
        self.gen: Any = None

    @cached_property
    def n(self) -> dict[str, int]:
        s = self.settings
        return {
            "users": s.target_rows_users,
            "tags": len(TAG_TREE.slugs),
            "content_items": s.target_rows_content_items,
            "content_items_auto": s.target_rows_content_items_auto,
        }

    @cached_property
    def id_offset(self) -> dict[str, int]:
        """First integer id of each table (``key_offset`` shifts them all)."""
        s = self.settings
        return {
            "content_items": s.content_id_start + s.key_offset,
            "content_items_auto": s.content_id_start + s.key_offset + self.n["content_items"],
            "generation_jobs": s.job_id_start + s.key_offset,
            "gen_source_stats": 5 + s.key_offset,  # after the 4 shared rows (``derived``)
        }

    @cached_property
    def n_gen_source_stats(self) -> int:
        """At most: two community rows, then one per (user, source)."""
        return 2 + 2 * self.n["users"]

    @cached_property
    def n_content(self) -> int:
        return self.n["content_items"] + self.n["content_items_auto"]

    @cached_property
    def extra_statuses(self) -> tuple[list[str], list[int]]:
        """The never-completed jobs: names and exact counts (largest remainder).

        Exact arithmetic on the weights as written: Python's float ``sum`` differs between
        versions (3.12 compensates), which changed the number of jobs at a rounding tie."""
        weights = self.settings.status_weights
        others = [k for k in weights if k != "completed" and weights[k] > 0]
        exact = col.written_decimal
        share = sum(exact(weights[k]) for k in others) / exact(weights["completed"])
        extra = round(self.n_content * share)
        return others, col.quota_counts(extra, [weights[k] for k in others]) if others else []

    @cached_property
    def n_jobs(self) -> int:
        return self.n_content + sum(self.extra_statuses[1])

    @cached_property
    def tags_max(self) -> int:
        return min(self.settings.tags_per_item_max, len(VOCABULARY.tag_names))

    @cached_property
    def favorites_max(self) -> int:
        return min(self.settings.favorite_tags_max, len(VOCABULARY.tag_names))

    # ------------------------------------------------------------------ shared pure functions

    def stream(self, table: str, column: str) -> Stream:
        return Stream.of(self.settings.seed, table, column)

    @cached_property
    def window(self) -> tuple[int, int]:
        """The date window as naive-UTC epoch seconds, inclusive."""
        zone = ZoneInfo(self.settings.timezone)
        lo = self.settings.window_start.replace(tzinfo=zone).astimezone(UTC)
        hi = self.settings.window_end.replace(tzinfo=zone).astimezone(UTC)
        return int(lo.timestamp()), int(hi.timestamp())

    def in_window(self, table: str, column: str, idx: NDArray[np.int64]) -> NDArray[np.int64]:
        lo, hi = self.window
        return self.stream(table, column).integers(idx, lo, hi)

    def later(
        self, table: str, column: str, idx: NDArray[np.int64], since: NDArray[np.int64]
    ) -> NDArray[np.int64]:
        """A time uniform in [since, window end]."""
        u = self.stream(table, column).uniform(idx)
        return since + np.floor(u * (self.window[1] - since + 1)).astype(np.int64)

    def user_ids(self, user_index: NDArray[np.int64]) -> pa.Array:
        keyed = col.uuid4_strings(col.uuid_key_space(self.settings.seed, "users"), user_index)
        return pc.if_else(pa.array(user_index == 0), self.context["admin_uuid"], keyed)

    @cached_property
    def tag_ids(self) -> pa.StringArray:
        """By the app's rule (uuid5 of the slug), not seeded: every genonaut set and the app
        itself name the same tag the same way, so appended sets share their tags."""
        return pa.array(TAG_TREE.ids, pa.string())

    @cached_property
    def leaf_tag_ids(self) -> pa.StringArray:
        """Ids of the 101 pool tags, the ones items carry (index = pool index)."""
        return self.tag_ids[TAG_TREE.n_categories :]

    @cached_property
    def tag_weights(self) -> NDArray[np.float64]:
        """Zipf popularity of the pool tags: the tag ranked r (a keyed permutation of the pool,
        0-based) weighs (r + 1) ** -tag_popularity_exponent."""
        pool = len(TAG_TREE.leaves)
        rank = permute(np.arange(pool), pool, self.stream("tags", "popularity").key)
        exponent = -self.settings.tag_popularity_exponent
        return np.asarray(rank + 1.0, dtype=np.float64) ** exponent

    n_sizes = len(RESOLUTIONS)

    def resolution_index(self, table: str, idx: NDArray[np.int64]) -> NDArray[np.int64]:
        return self.stream(table, "resolution").integers(idx, 0, len(RESOLUTIONS) - 1)

    @staticmethod
    def size_of(resolution: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Width and height of ``RESOLUTIONS[resolution]``."""
        return _SIZES[0][resolution], _SIZES[1][resolution]

    def item_size(
        self, table: str, idx: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        return self.size_of(self.resolution_index(table, idx))

    def creator(self, table: str, idx: NDArray[np.int64]) -> NDArray[np.int64]:
        """User row of item ``idx``: exactly ``admin_rows`` rows get the admin (row 0)."""
        admin_rows = self.settings.admin_rows_per_content_table
        if not len(idx):  # no rows (an empty table has no permutation)
            return np.zeros(0, dtype=np.int64)
        is_admin = permute(idx, self.n[table], self.stream(table, "admin").key) < admin_rows
        other = self.stream(table, "creator_id").integers(idx, 1, self.n["users"] - 1)
        return np.where(is_admin, 0, other)

    def item_tags(
        self, table: str, idx: NDArray[np.int64]
    ) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
        s = self.settings
        return col.sample_lists(
            self.stream(table, "tags"),
            idx,
            len(TAG_TREE.leaves),
            s.tags_per_item_min,
            self.tags_max,
            weights=self.tag_weights,
        )

    def created(self, table: str, idx: NDArray[np.int64]) -> NDArray[np.int64]:
        """``created_at`` (epoch seconds) of row ``idx`` of users, tags or a content table: the
        spec's timestamp strategy on stream (table, created_at) over the window, recomputed."""
        return self.in_window(table, "created_at", idx)

    def is_private(self, table: str, idx: NDArray[np.int64]) -> NDArray[np.bool_]:
        """``is_private`` of item ``idx`` of a content table (the spec's ``bool`` strategy on
        stream (table, is_private) with ``is_private_share``, recomputed)."""
        return np.asarray(
            self.stream(table, "is_private").bernoulli(idx, self.settings.is_private_share)
        )

    def completed_at(self, table: str, idx: NDArray[np.int64]) -> NDArray[np.int64]:
        """When item ``idx``'s job completed: the item's ``created_at`` (the spec's timestamp
        strategy on stream (table, created_at) over the same window, recomputed)."""
        return self.in_window(table, "created_at", idx)

    @cached_property
    def _prompt_parts(self) -> dict[str, Any]:
        s = self.settings
        domains = s.domains()
        lists = [VOCABULARY.domains[d] for d in domains]
        general = VOCABULARY.general
        vocab = pa.array([p for lst in lists for p in lst] + list(general), pa.string())
        offsets = np.cumsum([0] + [len(lst) for lst in lists])
        overlap = np.array([[g in set(lst) for g in general] for lst in lists])
        return {
            "vocab": vocab,
            "domain_start": offsets[:-1],
            "domain_len": np.diff(offsets),
            "general_start": offsets[-1],
            "general_allowed": ~overlap,
            "templates": TemplateSet(s.prompt_templates, ["domain", "general"]),
        }

    def prompts(self, table: str, idx: NDArray[np.int64]) -> pa.StringArray:
        """The prompt of row ``idx``: phrases of one domain plus general ones, via a template."""
        s, parts = self.settings, self._prompt_parts
        domain = self.stream(table, "prompt_domain").integers(idx, 0, len(parts["domain_len"]) - 1)
        length = parts["domain_len"][domain]
        width = int(parts["domain_len"].max())
        allowed = np.arange(width)[None, :] < length[:, None]
        off_d, pos_d = col.sample_lists(
            self.stream(table, "prompt_domain_phrases"),
            idx,
            width,
            s.domain_phrases_min,
            np.minimum(s.domain_phrases_max, length),
            allowed,
        )
        pos_d = pos_d + np.repeat(parts["domain_start"][domain], np.diff(off_d))
        off_g, pos_g = col.sample_lists(
            self.stream(table, "prompt_general_phrases"),
            idx,
            len(VOCABULARY.general),
            s.general_phrases_min,
            s.general_phrases_max,
            parts["general_allowed"][domain],
        )
        templates: TemplateSet = parts["templates"]
        which = self.stream(table, "prompt_template").integers(idx, 0, len(templates) - 1)
        return templates.render(
            which,
            {
                "domain": col.join_lists(off_d, pos_d, parts["vocab"], ", "),
                "general": col.join_lists(
                    off_g, pos_g + parts["general_start"], parts["vocab"], ", "
                ),
            },
        )

    def content_segments(
        self, idx: NDArray[np.int64]
    ) -> list[tuple[str, NDArray[np.int64], NDArray[np.int64]]]:
        """Split driving rows over the two content tables: (table, driving rows, item rows)."""
        n_items = self.n["content_items"]
        out = []
        for table, lo, hi in (
            ("content_items", 0, n_items),
            ("content_items_auto", n_items, self.n_content),
        ):
            sel = idx[(idx >= lo) & (idx < hi)]
            if len(sel):
                out.append((table, sel, sel - lo))
        return out
