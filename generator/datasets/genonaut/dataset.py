"""The genonaut dataset: users, tags and their hierarchy, both content partitions, generation
jobs, content tags, and the two stats tables the app's background tasks maintain.

Only composes engine pieces. Row layouts (all indexes are 0-based row numbers):

- users: row 0 is the admin (id from ``DB_USER_ADMIN_UUID``); rows 1.. are generated.
- tags: the app's 127 hierarchy tags (26 categories, then the 101 pool tags; ``tagtree``), ids
  by the app's rule (uuid5 of the slug), the same in every set; tag_parents: its 129 edges.
- content_items: ids ``C+K..C+K+N-1``; content_items_auto: ids ``C+K+N..C+K+N+M-1`` (disjoint,
  int4), where ``C`` is ``content_id_start`` (3,000,000: the app's own content sequence starts
  there) and ``K`` is ``key_offset`` (0 by default; sets appended to one database need disjoint K).
- generation_jobs (``jobs``): rows ``[0, N)`` complete the items, ``[N, N+M)`` the auto items,
  then the extra, never-completed jobs; ids are ``J + K + row`` with ``J = job_id_start``
  (1,000,000: clear of the small ids the app's tests probe as missing, e.g. 999 and 999,999).
- tag_cardinality_stats, gen_source_stats (``derived``): what the app's tasks compute.

For ``--append`` the manifest marks the admin user and the tags as shared keys (the same entity
in every set: an existing row is kept) and tags as ``remap`` on a name conflict (an application's
own tag of that name is used); users with a taken username are dropped with their content.
- content_tags: exploded from the items then the auto items (driving row = item row).

Every FK is recomputed from the parent's row index (``creator`` of item i, the tag indexes of
item i), never looked up.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from generator import columns as col
from generator.dataset import Dataset, TableGen
from generator.datasets.genonaut import derived, jobs, models
from generator.datasets.genonaut.settings import GenonautSettings
from generator.datasets.genonaut.tagtree import TAG_TREE
from generator.datasets.genonaut.vocabulary import VOCABULARY
from generator.pools import faker_pool
from generator.rng import Stream, permute
from generator.text import TemplateSet
from seedgen.errors import ConfigError
from seedgen.manifest import ReferenceSpec
from seedgen.settings import require_uuid

ADMIN_ENV = "DB_USER_ADMIN_UUID"
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
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
SOURCES = {"content_items": ("items", "regular"), "content_items_auto": ("auto", "auto")}
CONTENT = tuple(SOURCES)


class GenonautDataset(Dataset):
    name = "genonaut"
    settings_model = GenonautSettings
    config_sections = ("seed_data", "seed_data_generator")
    metadata = models.metadata
    extensions = models.EXTENSIONS
    help = "genonaut's app schema: users, content items, generation jobs, tags, interactions"
    example = "seedgen generate genonaut --target-rows-content-items 5000 --dry-run"

    settings: GenonautSettings

    @classmethod
    def resolve_context(cls, settings: Any, env_file: Path) -> dict[str, Any]:
        return {"admin_uuid": str(require_uuid(ADMIN_ENV, env_file))}

    # ------------------------------------------------------------------ sizes and layout

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

    def tables(self) -> list[TableGen]:
        s, n = self.settings, self.n
        default = s.batch_size_default
        offset = self.id_offset
        top = (
            max(
                offset["content_items_auto"] + n["content_items_auto"],
                offset["generation_jobs"] + self.n_jobs,
                offset["gen_source_stats"] + self.n_gen_source_stats - 4,
            )
            - 1
        )
        if top >= 2**31:
            raise ConfigError(
                f"key_offset {s.key_offset:,} puts ids up to {top:,}, past the int4 columns' "
                f"limit {2**31 - 1:,}",
                hint="choose a smaller key_offset",
            )
        return [
            TableGen(
                "users",
                n["users"],
                _cols(models.users),
                default,
                shared_keys=(self.context["admin_uuid"],),
            ),
            TableGen(
                "tags",
                n["tags"],
                _cols(models.tags),
                default,
                shared_keys=TAG_TREE.ids,
                on_conflict="remap",
            ),
            TableGen(
                "tag_parents",
                len(TAG_TREE.edges),
                _cols(models.tag_parents),
                default,
                shared_keys=tuple(
                    f"{TAG_TREE.ids[c]}, {TAG_TREE.ids[p]}" for c, p in TAG_TREE.edges
                ),
            ),
            *(
                TableGen(
                    t,
                    n[t],
                    _cols(getattr(models, t)),
                    getattr(s, f"batch_size_{t}"),
                    key_ranges=_reserve("id", offset[t], n[t]),
                )
                for t in CONTENT
            ),
            TableGen(
                "generation_jobs",
                self.n_jobs,
                _cols(models.generation_jobs, skip=jobs.NULL_COLUMNS),
                default,
                key_ranges=_reserve("id", offset["generation_jobs"], self.n_jobs),
            ),
            TableGen(
                "content_tags",
                self.n_content,
                _cols(models.content_tags),
                default,
                fanout=(s.tags_per_item_min + self.tags_max) / 2,
                exploded=True,
                # the content ids of both partitions: one contiguous reserved range
                key_ranges=_reserve("content_id", offset["content_items"], self.n_content),
                # content_id has no FK (it points into either partition, by content_source)
                references=tuple(
                    ReferenceSpec(
                        columns=["content_id"],
                        table=t,
                        parent_columns=["id"],
                        when={"content_source": SOURCES[t][1]},
                    )
                    for t in CONTENT
                ),
            ),
            *self._derived_tables(),
        ]

    def _derived_tables(self) -> list[TableGen]:
        """One driving row each: the whole table is a function of all items."""
        return [
            TableGen(
                "tag_cardinality_stats",
                1,
                _cols(models.tag_cardinality_stats),
                self.settings.batch_size_default,
                fanout=2 * len(TAG_TREE.leaves),
                exploded=True,
                # the same keys in every set: an append keeps the first set's rows
                shared_keys=tuple(
                    f"{tag}, {source}" for tag in TAG_TREE.ids for source in ("regular", "auto")
                ),
            ),
            TableGen(
                "gen_source_stats",
                1,
                _cols(models.gen_source_stats),
                self.settings.batch_size_default,
                fanout=self.n_gen_source_stats,
                exploded=True,
                # ids 1-4 are shared (``derived``), the rest start at 5 + key_offset; no
                # reserved range, so ``--append`` checks every staged id against the table
                shared_keys=("1", "2", "3", "4"),
            ),
        ]

    def build(self, table: str, start: int, stop: int) -> dict[str, pa.Array]:
        idx = np.arange(start, stop, dtype=np.int64)
        if table in CONTENT:
            return self._content(table, idx)
        if table == "generation_jobs":
            return jobs.generation_jobs(self, idx)
        if table in ("tag_cardinality_stats", "gen_source_stats"):
            derive: Callable[[GenonautDataset], dict[str, pa.Array]] = getattr(derived, table)
            return derive(self)
        builder: Callable[[NDArray[np.int64]], dict[str, pa.Array]] = getattr(self, f"_{table}")
        return builder(idx)

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

    def completed_at(self, table: str, idx: NDArray[np.int64]) -> NDArray[np.int64]:
        """When item ``idx``'s job completed; also the item's ``created_at``."""
        return self.in_window(table, "completed_at", idx)

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

    # ------------------------------------------------------------------ tables

    def _users(self, idx: NDArray[np.int64]) -> dict[str, pa.Array]:
        s, n = self.settings, self.n["users"]
        first, last = _name_pools(s.seed)
        rank = permute(np.maximum(idx - 1, 0), max(n - 1, 1), self.stream("users", "username").key)
        combo, repeat = rank % (len(first) * len(last)), rank // (len(first) * len(last))
        suffix = pc.if_else(pa.array(repeat > 0), pc.cast(pa.array(repeat), pa.string()), "")
        generated = col.concat(
            col.pick(first, combo % len(first)), ".", col.pick(last, combo // len(first)), suffix
        )
        is_admin = pa.array(idx == 0)
        username = pc.if_else(is_admin, "admin", generated)
        domain = col.pick(EMAIL_DOMAINS, self.stream("users", "email").integers(idx, 0, 2))
        created = self.in_window("users", "created_at", idx)
        off, tag_idx = col.sample_lists(
            self.stream("users", "favorite_tags"),
            idx,
            len(TAG_TREE.leaves),
            s.favorite_tags_min,
            self.favorites_max,
            weights=self.tag_weights,
        )
        return {
            "id": self.user_ids(idx),
            "username": username,
            "email": col.concat(username, "@", domain),
            "created_at": col.seconds_to_timestamp(created),
            "updated_at": col.seconds_to_timestamp(self.later("users", "updated_at", idx, created)),
            "preferences": col.concat(
                '{"favorite_tags": ', col.json_arrays(off, tag_idx, _json_tag_names()), "}"
            ),
            "is_active": pa.array(
                self.stream("users", "is_active").bernoulli(idx, s.is_active_share)
            ),
            "favorite_tag_ids": col.json_arrays(
                off, tag_idx, col.concat('"', self.leaf_tag_ids, '"')
            ),
        }

    def _tags(self, idx: NDArray[np.int64]) -> dict[str, pa.Array]:
        created = self.in_window("tags", "created_at", idx)
        return {
            "id": pc.take(self.tag_ids, pa.array(idx)),
            "name": col.pick(TAG_TREE.slugs, idx),
            "tag_metadata": pa.array(["{}"] * len(idx), pa.string()),
            "created_at": col.seconds_to_timestamp(created),
            "updated_at": col.seconds_to_timestamp(self.later("tags", "updated_at", idx, created)),
        }

    def _tag_parents(self, idx: NDArray[np.int64]) -> dict[str, pa.Array]:
        edges = np.asarray(TAG_TREE.edges, dtype=np.int64)[idx]
        return {
            "tag_id": pc.take(self.tag_ids, pa.array(edges[:, 0])),
            "parent_id": pc.take(self.tag_ids, pa.array(edges[:, 1])),
        }

    def _content(self, table: str, idx: NDArray[np.int64]) -> dict[str, pa.Array]:
        s = self.settings
        prompt = self.prompts(table, idx)
        key = col.uuid_key_space(s.seed, f"{table}.content_data")
        off, tag_idx = self.item_tags(table, idx)
        metadata = col.concat(
            '{"style": "',
            col.pick(STYLES, self.stream(table, "style").integers(idx, 0, 2)),
            '", "resolution": "',
            col.pick(RESOLUTIONS, self.resolution_index(table, idx)),
            '", "tags": ',
            col.json_arrays(off, tag_idx, _json_tag_names()),
            "}",
        )
        created = self.completed_at(table, idx)
        quality = np.round(self.stream(table, "quality_score").uniform(idx), 2)
        return {
            "id": pa.array((idx + self.id_offset[table]).astype(np.int32)),
            "title": pc.utf8_slice_codeunits(prompt, 0, 20),
            "content_type": pa.array(["image"] * len(idx), pa.string()),
            "content_data": col.concat(
                s.images_dir.rstrip("/") + "/", col.uuid4_strings(key, idx), ".png"
            ),
            "item_metadata": metadata,
            "creator_id": self.user_ids(self.creator(table, idx)),
            "created_at": col.seconds_to_timestamp(created),
            "updated_at": col.seconds_to_timestamp(self.later(table, "updated_at", idx, created)),
            "quality_score": pa.array(quality),
            "is_private": pa.array(
                self.stream(table, "is_private").bernoulli(idx, s.is_private_share)
            ),
            "prompt": prompt,
            "source_type": pa.array([SOURCES[table][0]] * len(idx), pa.string()),
        }

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

    def _content_tags(self, idx: NDArray[np.int64]) -> dict[str, pa.Array]:
        parts = []
        for table, _rows, item in self.content_segments(idx):
            off, tag_idx = self.item_tags(table, item)
            per_item = np.diff(off)
            ids = np.repeat(item + self.id_offset[table], per_item).astype(np.int32)
            parts.append(
                {
                    "content_id": pa.array(ids),
                    "content_source": pa.array([SOURCES[table][1]] * len(ids), pa.string()),
                    "tag_id": pc.take(self.leaf_tag_ids, pa.array(tag_idx)),
                }
            )
        return {k: pa.concat_arrays([p[k] for p in parts]) for k in parts[0]}


def _reserve(column: str, first: int, count: int) -> dict[str, list[int]]:
    """The key range ``count`` ids from ``first`` take; none for an empty table."""
    return {column: [first, first + count - 1]} if count else {}


def _cols(table: Any, skip: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """Columns a builder produces: all but ``skip`` and nullable columns it leaves out."""
    optional = {"path_thumb", "path_thumbs_alt_res"}
    return tuple(c.name for c in table.columns if c.name not in skip | optional)


@lru_cache(maxsize=1)
def _json_tag_names() -> pa.StringArray:
    return col.json_text_pool(TAG_TREE.leaves)


def _name_pools(seed: int) -> tuple[list[str], list[str]]:
    """Seeded Faker pools of distinct, lower-case ASCII first and last names."""
    first = faker_pool(seed, "first_name", 4000)
    last = faker_pool(seed, "last_name", 4000)
    return first, last
