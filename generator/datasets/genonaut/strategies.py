"""genonaut's named strategies: what its spec (``genonaut.yaml``) cannot say natively.

Each is registered as ``genonaut.<name>`` and computes its column from the ``Layout`` of the
set (``layout_of``: built once per generator from the spec's ``params``, the genonaut settings
plus ``admin_uuid``), so a column here and the same value recomputed elsewhere (an item's
creator in its job, an item's tags in ``content_tags``) agree by construction:

- ``user_id`` (row 0 is the admin from the environment), ``creator_id`` (exactly
  ``admin_rows_per_content_table`` admin items), ``username`` (distinct Faker first.last names);
- ``tag_id`` / ``tag_name``: the app's tag tree, ids by the app's rule (uuid5 of the slug), not
  seeded;
- ``prompt`` (phrases of one domain and general ones through the prompt templates),
  ``item_metadata`` (style, resolution and the item's Zipf-weighted tags as JSON),
  ``favorite_tags`` (users' preferences and favorite_tag_ids, one sample, two shapes),
  ``until_window_end`` (uniform between a column and the window's end, which ``after`` cannot
  bound);
- ``genonaut.job_*`` (``jobs``): the generation_jobs columns that follow the row's segment;
- table builders (``registry.register_table``): ``tag_parents`` (the tree's edges: a pair key
  neither column of which is unique), ``content_tags`` (exploded from *both* content partitions,
  one reserved id range: a ``per_parent`` table has one parent table), and the two aggregates
  ``tag_cardinality_stats``, ``gen_source_stats`` (their row count depends on the data).

Modules wired in later as table builders take the same ``Layout`` as ``ds``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray
from pydantic import ValidationError

from generator import columns as col
from generator.datasets.genonaut import derived, jobs  # noqa: F401 (registers genonaut.job_*)
from generator.datasets.genonaut.layout import RESOLUTIONS, SOURCES, STYLES, Layout
from generator.datasets.genonaut.settings import GenonautSettings
from generator.datasets.genonaut.tagtree import TAG_TREE
from generator.pools import faker_pool
from generator.rng import permute
from generator.spec.registry import register, register_table
from seedgen.errors import SpecError
from seedgen.settings import GenerateSettings

Fn = Callable[[Any], pa.Array]
Builder = Callable[[NDArray[np.int64]], dict[str, pa.Array]]


def spec_params(settings: GenonautSettings, context: dict[str, Any]) -> dict[str, Any]:
    """The spec's ``params`` for these settings: the genonaut keys and the admin UUID."""
    own = set(GenonautSettings.model_fields) - set(GenerateSettings.model_fields)
    dumped = settings.model_dump(mode="json")
    return {**{k: dumped[k] for k in sorted(own)}, "admin_uuid": context["admin_uuid"]}


_LAYOUT = "genonaut.layout"


def layout_of(ctx: Any) -> Layout:
    """The ``Layout`` of the generator ``ctx`` belongs to: the spec's ``params`` (genonaut
    settings and ``admin_uuid``), its seed and key offset, and the row counts of its users and
    content tables (the tables' ``rows`` win over ``params``, so an edited copy stays whole)."""
    gen = ctx.gen
    if _LAYOUT not in gen.extras:  # kept on the generator: freed with it
        params = dict(gen.params)
        admin = params.pop("admin_uuid", None)
        if admin is None:
            raise SpecError(
                f"{ctx.where}: genonaut strategies need params.admin_uuid in the spec",
                hint="add params: {admin_uuid: <the app's DB_USER_ADMIN_UUID>}",
            )
        sized = {f"target_rows_{t}": gen.rows[t] for t in _SIZED if t in gen.rows}
        try:
            settings = GenonautSettings.model_validate(
                {**params, **sized, "seed": gen.seed, "key_offset": gen.key_offset}
            )
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(map(str, err["loc"])) or "params"
            raise SpecError(
                f"{ctx.where}: genonaut params: {where}: {err['msg']}",
                hint="fix params (genonaut's settings) or the tables' rows",
            ) from None
        layout = Layout(settings, {"admin_uuid": str(admin)})
        layout.gen = gen  # builders re-evaluate spec columns (``jobs.generation_jobs``)
        _check_rows(layout, gen.rows)
        _check_starts(layout, gen)
        gen.extras[_LAYOUT] = layout
    found: Layout = gen.extras[_LAYOUT]
    return found


_SIZED = ("users", "content_items", "content_items_auto")


def _check_rows(ds: Layout, rows: dict[str, int]) -> None:
    """The tables whose size follows from the others have exactly that size."""
    need = {
        "tags": len(TAG_TREE.slugs),
        "tag_parents": len(TAG_TREE.edges),
        "generation_jobs": ds.n_jobs,
        "content_tags": ds.n_content,  # driving rows: the items of both partitions
        "tag_cardinality_stats": 1,
        "gen_source_stats": 1,
    }
    for table, n in need.items():
        if table in rows and rows[table] != n:
            raise SpecError(
                f"table {table}: rows {rows[table]:,} but the genonaut layout needs {n:,}",
                hint=f"set tables.{table}.rows to {n}",
            )


def _check_starts(ds: Layout, gen: Any) -> None:
    """The id columns start where the layout (which every builder and ``content_tags`` follow)
    puts them: the auto items right after the items, one contiguous range."""
    for table, first in ds.id_offset.items():
        strat = gen.tables[table].spec.columns.get("id") if table in gen.tables else None
        start = getattr(strat, "start", None)
        need = first - ds.settings.key_offset
        if start is not None and start != need:
            raise SpecError(
                f"table {table}, column id: start {start:,} but the genonaut layout needs {need:,}",
                hint=f"set tables.{table}.columns.id.start to {need} (ids follow "
                "params.content_id_start/job_id_start and the tables' rows)",
            )


# --------------------------------------------------------------------------- users


@register("genonaut.user_id")
def user_id(params: dict[str, Any], ctx: Any) -> Fn:
    ds = layout_of(ctx)
    return lambda f: ds.user_ids(f.idx)


@register("genonaut.username")
def username(params: dict[str, Any], ctx: Any) -> Fn:
    """``first.last`` from seeded Faker pools, a counter on repeats, distinct over a keyed
    permutation of rows 1..; row 0 is ``admin``."""
    ds = layout_of(ctx)
    n = ds.n["users"]
    key = ds.stream("users", "username").key

    def run(f: Any) -> pa.Array:
        first, last = _name_pools(ds.settings.seed)  # on first use: seconds of Faker
        rank = permute(np.maximum(f.idx - 1, 0), max(n - 1, 1), key)
        combo, repeat = rank % (len(first) * len(last)), rank // (len(first) * len(last))
        suffix = pc.if_else(pa.array(repeat > 0), pc.cast(pa.array(repeat), pa.string()), "")
        generated = col.concat(
            col.pick(first, combo % len(first)), ".", col.pick(last, combo // len(first)), suffix
        )
        return pc.if_else(pa.array(f.idx == 0), "admin", generated)

    return run


@register("genonaut.favorite_tags")
def favorite_tags(params: dict[str, Any], ctx: Any) -> Fn:
    """One Zipf-weighted sample of pool tags per user, as ``preferences`` (names) or as
    ``favorite_tag_ids`` (``params.format``: ``preferences`` or ``ids``)."""
    ds = layout_of(ctx)
    s = ds.settings
    ids = params.get("format") == "ids"

    def run(f: Any) -> pa.Array:
        off, tag_idx = col.sample_lists(
            ds.stream("users", "favorite_tags"),
            f.idx,
            len(TAG_TREE.leaves),
            s.favorite_tags_min,
            ds.favorites_max,
            weights=ds.tag_weights,
        )
        if ids:
            return col.json_arrays(off, tag_idx, col.concat('"', ds.leaf_tag_ids, '"'))
        return col.concat(
            '{"favorite_tags": ', col.json_arrays(off, tag_idx, json_tag_names()), "}"
        )

    return run


@register("genonaut.until_window_end")
def until_window_end(params: dict[str, Any], ctx: Any) -> Fn:
    """A time uniform in [column ``params.of`` of the row, the window's end]."""
    ds = layout_of(ctx)
    table, column, of = ctx.table.name, ctx.column, str(params["of"])

    def run(f: Any) -> pa.Array:
        since = pc.cast(pc.cast(f.get(of), pa.timestamp("s")), pa.int64()).to_numpy()
        return col.seconds_to_timestamp(ds.later(table, column, f.idx, since))

    return run


# --------------------------------------------------------------------------- tags


@register("genonaut.tag_id")
def tag_id(params: dict[str, Any], ctx: Any) -> Fn:
    ds = layout_of(ctx)
    return lambda f: pc.take(ds.tag_ids, pa.array(f.idx))


@register("genonaut.tag_name")
def tag_name(params: dict[str, Any], ctx: Any) -> Fn:
    return lambda f: col.pick(TAG_TREE.slugs, f.idx)


@register_table("genonaut.tag_parents")
def tag_parents(params: dict[str, Any], ctx: Any) -> Builder:
    """Row ``r`` is edge ``r`` of the tag tree (a builder: its key is the pair, and neither
    column alone is unique, which column strategies cannot declare)."""
    ds = layout_of(ctx)
    edges = np.asarray(TAG_TREE.edges, dtype=np.int64)
    return lambda idx: {
        "tag_id": pc.take(ds.tag_ids, pa.array(edges[idx, 0])),
        "parent_id": pc.take(ds.tag_ids, pa.array(edges[idx, 1])),
    }


# --------------------------------------------------------------------------- content


@register("genonaut.prompt")
def prompt(params: dict[str, Any], ctx: Any) -> Fn:
    ds = layout_of(ctx)
    table = ctx.table.name
    return lambda f: ds.prompts(table, f.idx)


@register("genonaut.creator_id")
def creator_id(params: dict[str, Any], ctx: Any) -> Fn:
    ds = layout_of(ctx)
    table = ctx.table.name
    return lambda f: ds.user_ids(ds.creator(table, f.idx))


@register("genonaut.item_metadata")
def item_metadata(params: dict[str, Any], ctx: Any) -> Fn:
    ds = layout_of(ctx)
    table = ctx.table.name

    def run(f: Any) -> pa.Array:
        off, tag_idx = ds.item_tags(table, f.idx)
        return col.concat(
            '{"style": "',
            col.pick(STYLES, ds.stream(table, "style").integers(f.idx, 0, 2)),
            '", "resolution": "',
            col.pick(RESOLUTIONS, ds.resolution_index(table, f.idx)),
            '", "tags": ',
            col.json_arrays(off, tag_idx, json_tag_names()),
            "}",
        )

    return run


# --------------------------------------------------------------------------- whole tables


@register_table("genonaut.content_tags")
def content_tags(params: dict[str, Any], ctx: Any) -> Builder:
    """Driving row r is item r of content_items then of content_items_auto: one row per tag of
    the item (the same sample as its ``item_metadata``), vectorised per partition.

    An item's rows come in ``tag_id`` order, so each shard is in the primary key's order
    ``(content_id, content_source, tag_id)``: the key (kept during COPY) takes each row at its
    right edge, and ``idx_content_tags_content``'s build sorts presorted runs (4.6 -> 2.3 s for
    6.1 M rows; a build of the key itself 8.0 -> 5.2 s). The app inserts an item's tags
    together, so rows stay clustered by item as there."""
    ds = layout_of(ctx)
    leaf_rank = np.argsort(np.argsort(np.asarray(ds.leaf_tag_ids.to_pylist())))  # uuid order

    def run(idx: NDArray[np.int64]) -> dict[str, pa.Array]:
        parts = []
        for table, _rows, item in ds.content_segments(idx):
            off, tag_idx = ds.item_tags(table, item)
            per_item = np.diff(off)
            local = np.repeat(np.arange(len(item), dtype=np.int64), per_item)
            order = np.argsort(local * len(leaf_rank) + leaf_rank[tag_idx], kind="stable")
            ids = np.repeat(item + ds.id_offset[table], per_item).astype(np.int32)
            parts.append(
                {
                    "content_id": pa.array(ids),
                    "content_source": col.pick([SOURCES[table][1]], np.zeros(len(ids), np.int64)),
                    "tag_id": pc.take(ds.leaf_tag_ids, pa.array(tag_idx[order])),
                }
            )
        return {k: pa.concat_arrays([p[k] for p in parts]) for k in parts[0]}

    return run


@register_table("genonaut.tag_cardinality_stats")
def tag_cardinality_stats(params: dict[str, Any], ctx: Any) -> Builder:
    ds = layout_of(ctx)
    return lambda idx: derived.tag_cardinality_stats(ds)


@register_table("genonaut.gen_source_stats")
def gen_source_stats(params: dict[str, Any], ctx: Any) -> Builder:
    ds = layout_of(ctx)
    return lambda idx: derived.gen_source_stats(ds)


@lru_cache(maxsize=1)
def _name_pools(seed: int) -> tuple[list[str], list[str]]:
    """Seeded Faker pools of distinct, lower-case ASCII first and last names."""
    return faker_pool(seed, "first_name", 4000), faker_pool(seed, "last_name", 4000)


@lru_cache(maxsize=1)
def json_tag_names() -> pa.StringArray:
    return col.json_text_pool(TAG_TREE.leaves)
