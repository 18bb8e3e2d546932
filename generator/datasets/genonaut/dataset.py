"""The genonaut dataset: a spec (``genonaut.yaml``, shipped next to this module) run by the spec
engine, with genonaut's settings, CLI flags, environment and manifest fields.

The tables are spec entries: native strategies where the spec can say it (key sequences,
timestamps in the window, shares, choices, expressions, keyed UUIDs) and the named strategies
of ``strategies`` (``genonaut.*``) where it needs code (the admin row from the environment, the
tag tree, prompts, the items' tags, the jobs, the aggregates). ``GenonautDataset`` reads the
file, writes the settings into it (``genonaut_spec``: row counts, id starts, window, shares and
``params``, which the named strategies read through their ``Layout``), resolves it against the
app's models (``models``) and builds rows with the spec engine's ``Generator``. The manifest
fields no spec field holds (references without FKs, content_tags' reserved id range over both
partitions, the stats tables' shared keys) are declared in ``tables`` below.

For ``--append`` the manifest marks the admin user and the tags as shared keys (the same entity
in every set: an existing row is kept) and tags as ``remap`` on a name conflict (an application's
own tag of that name is used); users with a taken username are dropped with their content. Row
layouts and key ranges: ``layout``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from generator.dataset import Dataset, TableGen
from generator.datasets.genonaut import models
from generator.datasets.genonaut.layout import CONTENT, SOURCES, Layout
from generator.datasets.genonaut.settings import GenonautSettings
from generator.datasets.genonaut.strategies import spec_params
from generator.datasets.genonaut.tagtree import TAG_TREE
from generator.spec.dataset import table_gen
from generator.spec.model import DatasetSpec, parse_spec
from generator.spec.resolve import resolve
from generator.spec.runtime import Generator
from generator.spec.sources import table_infos
from seedgen.errors import ConfigError
from seedgen.manifest import ReferenceSpec
from seedgen.settings import require_uuid

ADMIN_ENV = "DB_USER_ADMIN_UUID"
SPEC_FILE = Path(__file__).with_name("genonaut.yaml")


class GenonautDataset(Dataset):
    name = "genonaut"
    settings_model = GenonautSettings
    config_sections = ("seed_data", "seed_data_generator")
    metadata = models.metadata
    extensions = models.EXTENSIONS
    help = "genonaut's app schema: users, content items, generation jobs, tags, interactions"
    example = "seedgen generate genonaut --target-rows-content-items 5000 --dry-run"

    settings: GenonautSettings

    def __init__(self, settings: GenonautSettings, context: dict[str, Any]) -> None:
        super().__init__(settings, context)
        self.layout = Layout(settings, context)
        self.spec = genonaut_spec(self.layout)
        self.resolved = {t.name: t for t in resolve(self.spec, _infos(), None)}
        self.gen = Generator(
            list(self.resolved.values()),
            settings.seed,
            settings.key_offset,
            self.spec.params,
            tuple(self.spec.modules),
        )
        self.layout.gen = self.gen

    @classmethod
    def resolve_context(cls, settings: Any, env_file: Path) -> dict[str, Any]:
        return {"admin_uuid": str(require_uuid(ADMIN_ENV, env_file))}

    def __getattr__(self, name: str) -> Any:
        """The layout's members (``n``, ``id_offset``, ``extra_statuses``, ``creator``, ...)
        read as the dataset's own, as before the port to the spec layer."""
        if name == "layout":  # not yet set (in __init__): no recursion
            raise AttributeError(name)
        return getattr(self.layout, name)

    def _produces(self, table: str) -> tuple[str, ...]:
        return tuple(self.resolved[table].produced)

    def tables(self) -> list[TableGen]:
        ds, s = self.layout, self.settings
        n, default, offset = ds.n, s.batch_size_default, ds.id_offset
        top = (
            max(
                offset["content_items_auto"] + n["content_items_auto"],
                offset["generation_jobs"] + ds.n_jobs,
                offset["gen_source_stats"] + ds.n_gen_source_stats - 4,
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
                self._produces("users"),
                default,
                shared_keys=(self.context["admin_uuid"],),
            ),
            TableGen(
                "tags",
                n["tags"],
                self._produces("tags"),
                default,
                shared_keys=TAG_TREE.ids,
                on_conflict="remap",
            ),
            TableGen(
                "tag_parents",
                len(TAG_TREE.edges),
                self._produces("tag_parents"),
                default,
                shared_keys=tuple(
                    f"{TAG_TREE.ids[c]}, {TAG_TREE.ids[p]}" for c, p in TAG_TREE.edges
                ),
            ),
            *(
                TableGen(
                    t,
                    n[t],
                    self._produces(t),
                    getattr(s, f"batch_size_{t}"),
                    key_ranges=_reserve("id", offset[t], n[t]),
                )
                for t in CONTENT
            ),
            TableGen(
                "generation_jobs",
                ds.n_jobs,
                self._produces("generation_jobs"),
                default,
                key_ranges=_reserve("id", offset["generation_jobs"], ds.n_jobs),
            ),
            TableGen(
                "content_tags",
                ds.n_content,
                self._produces("content_tags"),
                default,
                fanout=(s.tags_per_item_min + ds.tags_max) / 2,
                exploded=True,
                # the content ids of both partitions: one contiguous reserved range
                key_ranges=_reserve("content_id", offset["content_items"], ds.n_content),
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
            *self._plain_tables(),
        ]

    def _plain_tables(self) -> list[TableGen]:
        """Spec tables with no manifest fields beyond their size (a table added to
        ``genonaut.yaml`` needs no code here): exploded when their builder says so."""
        named = {"users", "tags", "tag_parents", *CONTENT, "generation_jobs", "content_tags"}
        named |= {"tag_cardinality_stats", "gen_source_stats"}
        default = self.settings.batch_size_default
        return [
            table_gen(table, self.gen, default)
            for name, table in self.resolved.items()
            if name not in named
        ]

    def _derived_tables(self) -> list[TableGen]:
        """One driving row each: the whole table is a function of all items."""
        return [
            TableGen(
                "tag_cardinality_stats",
                1,
                self._produces("tag_cardinality_stats"),
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
                self._produces("gen_source_stats"),
                self.settings.batch_size_default,
                fanout=self.layout.n_gen_source_stats,
                exploded=True,
                # ids 1-4 are shared (``derived``), the rest start at 5 + key_offset; no
                # reserved range, so ``--append`` checks every staged id against the table
                shared_keys=("1", "2", "3", "4"),
            ),
        ]

    def build(self, table: str, start: int, stop: int) -> dict[str, pa.Array]:
        return self.gen.build(table, start, stop)


def genonaut_spec(ds: Layout) -> DatasetSpec:
    """``genonaut.yaml`` with the settings written in (what ``seedgen generate genonaut`` runs)."""
    s, raw = ds.settings, _raw_spec()
    tables = raw["tables"]
    del tables["content_items_all"]  # named for inference only (``--spec``): nothing to generate
    window = {
        "kind": "timestamp",
        "start": s.window_start,
        "end": s.window_end,
        "timezone": s.timezone,
    }
    for table in ("users", "tags", *CONTENT):
        tables[table]["columns"]["created_at"] = window
    for table in ("users", *CONTENT):
        tables[table]["rows"] = ds.n[table]
    tables["tags"]["rows"] = len(TAG_TREE.slugs)
    tables["tag_parents"]["rows"] = len(TAG_TREE.edges)
    tables["users"]["columns"]["is_active"]["share"] = s.is_active_share
    for table in CONTENT:
        cols = tables[table]["columns"]
        cols["id"]["start"] = ds.id_offset[table] - s.key_offset  # the engine adds key_offset
        cols["images_dir"]["value"] = s.images_dir.rstrip("/")
        cols["is_private"]["share"] = s.is_private_share
    tables["generation_jobs"]["rows"] = ds.n_jobs
    tables["generation_jobs"]["columns"]["id"]["start"] = (
        ds.id_offset["generation_jobs"] - s.key_offset
    )
    tables["generation_jobs"]["columns"]["job_type"]["value"] = s.job_type
    tables["content_tags"]["rows"] = ds.n_content
    fanout = (s.tags_per_item_min + ds.tags_max) / 2
    tables["content_tags"]["builder"]["fanout"] = max(fanout, 1e-3)  # > 0; no tags: no rows
    tables["tag_cardinality_stats"]["builder"]["fanout"] = 2 * len(TAG_TREE.leaves)
    tables["gen_source_stats"]["builder"]["fanout"] = ds.n_gen_source_stats
    raw["params"] = spec_params(s, ds.context)
    return parse_spec(raw, str(SPEC_FILE))


def _raw_spec() -> dict[str, Any]:
    """A fresh copy of the file's data (YAML anchors and merge keys expanded per use)."""
    text = _spec_text()
    data: dict[str, Any] = yaml.safe_load(text)
    for table in data["tables"].values():  # unshare what anchors share, before patching
        if "columns" in table:
            table["columns"] = {k: dict(v) for k, v in table["columns"].items()}
    return data


@lru_cache(maxsize=1)
def _spec_text() -> str:
    return SPEC_FILE.read_text()


@lru_cache(maxsize=1)
def _infos() -> Any:
    return table_infos(models.metadata)


def _reserve(column: str, first: int, count: int) -> dict[str, list[int]]:
    """The key range ``count`` ids from ``first`` take; none for an empty table."""
    return {column: [first, first + count - 1]} if count else {}
