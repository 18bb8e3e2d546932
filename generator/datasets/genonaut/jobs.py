"""generation_jobs rows the app's API can read (``shared/reference/genonaut/app.md`` §1.2-1.5).

Rows ``[0, N)`` complete the items, ``[N, N+M)`` the auto items (same user, prompt and time as
their item), then the extra, never-completed jobs. The table is a spec entry (``genonaut.yaml``):
the request's model, batch and negative prompt are native weighted choices, ``params`` a native
expression over them; the columns that depend on the row's segment (its item's user, prompt,
time and size, or the extra job's own) are the ``genonaut.job_*`` strategies registered here.
The spec's words and blanks are kept where the app accepts them: ``started_at`` and
``error_message`` stay NULL. What the app's response model
needs is filled the way the app's own API path fills it: ``job_type`` ``image_generation``, status
words from the app's vocabulary (``status_words`` maps the spec's), a ``params`` object holding
the request (backend, sampler parameters, model, LoRAs, size, batch), and the same model, LoRA
list, size and batch in their own columns. A job's width and height are its item's resolution.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml
from numpy.typing import NDArray

from generator import columns as col
from generator.datasets.genonaut.layout import Layout
from generator.spec.registry import register

TABLE = "generation_jobs"
I64 = NDArray[np.int64]
Fn = Callable[[Any], pa.Array]


def _spec_choice(column: str) -> tuple[tuple[str, float], ...]:
    """(value, weight) of a ``choice`` column of generation_jobs in ``genonaut.yaml``."""
    data = yaml.safe_load(Path(__file__).with_name("genonaut.yaml").read_text())
    strat = data["tables"][TABLE]["columns"][column]
    return tuple(zip(strat["values"], map(float, strat["weights"]), strict=True))


#: The seed-static checkpoints (app.md §5.3), weighted like the demo's API jobs (§1.5): the
#: spec's ``checkpoint_model`` choice.
CHECKPOINTS = _spec_choice("checkpoint_model")
#: The seed-static LoRAs with their recommended weight (app.md §5.3).
LORAS = (
    ("add_detail", 0.7),
    ("cinematic_lighting", 0.8),
    ("portrait_enhancer", 0.6),
    ("anime_style", 0.75),
    ("watercolor_effect", 0.65),
)
#: Share of jobs with 0, 1, 2, 3 LoRAs (the demo: 250 of 310 API jobs had none).
LORA_COUNT_SHARES = (0.80, 0.12, 0.06, 0.02)


@lru_cache(maxsize=1)
def lora_lists() -> tuple[pa.StringArray, NDArray[np.float64]]:
    """Every LoRA list of 0-3 distinct LoRAs as ``lora_models`` JSON text, with its weight."""
    texts, weights = [], []
    for size, share in enumerate(LORA_COUNT_SHARES):
        combos = list(itertools.combinations(LORAS, size))
        for combo in combos:
            items = [{"name": n, "strength_model": w, "strength_clip": 1.0} for n, w in combo]
            texts.append(json.dumps(items))
            weights.append(share / len(combos))
    return pa.array(texts, pa.string()), np.asarray(weights)


def by_segment(
    ds: Layout,
    idx: I64,
    item: Callable[[str, I64, I64], pa.Array],
    extra: Callable[[I64, I64], pa.Array],
) -> pa.Array:
    """A column over job rows ``idx``: ``item(content table, job rows, item rows)`` for the jobs
    that complete an item, ``extra(job rows, extra rows)`` for the rest, in ``idx``'s order."""
    parts, where = [], []
    n_items = ds.n["content_items"]
    for table, lo, hi in (
        ("content_items", 0, n_items),
        ("content_items_auto", n_items, ds.n_content),
    ):
        sel = np.flatnonzero((idx >= lo) & (idx < hi))
        if len(sel):
            parts.append(item(table, idx[sel], idx[sel] - lo))
            where.append(sel)
    sel = np.flatnonzero(idx >= ds.n_content)
    if len(sel) or not parts:
        parts.append(extra(idx[sel], idx[sel] - ds.n_content))
        where.append(sel)
    merged = pa.concat_arrays([p.cast(parts[0].type) for p in parts])
    order = np.concatenate(where)
    if (np.diff(order) > 0).all():  # the usual case: a contiguous range of rows
        return merged
    return merged.take(pa.array(np.argsort(order)))


def extra_status(ds: Layout, extra: I64) -> I64:
    """Index into ``ds.extra_statuses[0]`` of extra job ``extra`` (exact quota)."""
    names, counts = ds.extra_statuses
    if not len(extra):  # no extra jobs here (or none at all: no permutation of zero rows)
        return np.zeros(0, dtype=np.int64)
    return col.quota(ds.stream(TABLE, "status"), extra, sum(counts), counts)


def _layout(ctx: Any) -> Layout:
    from generator.datasets.genonaut.strategies import layout_of

    return layout_of(ctx)


@register("genonaut.job_user_id")
def job_user_id(params: dict[str, Any], ctx: Any) -> Fn:
    ds = _layout(ctx)
    others = ds.stream(TABLE, "user_id")
    return lambda f: by_segment(
        ds,
        f.idx,
        lambda t, job, item: ds.user_ids(ds.creator(t, item)),
        lambda job, extra: ds.user_ids(others.integers(job, 1, ds.n["users"] - 1)),
    )


@register("genonaut.job_prompt")
def job_prompt(params: dict[str, Any], ctx: Any) -> Fn:
    ds = _layout(ctx)
    return lambda f: by_segment(
        ds,
        f.idx,
        lambda t, job, item: ds.prompts(t, item),
        lambda job, extra: ds.prompts(TABLE, extra),
    )


@register("genonaut.job_status")
def job_status(params: dict[str, Any], ctx: Any) -> Fn:
    """``completed`` for the item jobs, then the other statuses by exact quota (stored words)."""
    ds = _layout(ctx)
    names = [ds.settings.stored_status(n) for n in ds.extra_statuses[0]]
    done = ds.settings.stored_status("completed")
    return lambda f: by_segment(
        ds,
        f.idx,
        lambda t, job, item: pa.array([done] * len(job), pa.string()),
        lambda job, extra: col.pick(names, extra_status(ds, extra)),
    )


@register("genonaut.job_time")
def job_time(params: dict[str, Any], ctx: Any) -> Fn:
    """``params.at``: ``created``, ``updated`` or ``completed``. An item's job completes when
    the item was created, after a 5-900 s run; an extra job is created in the window and ends
    before its end, and a pending one has no ``completed_at``."""
    ds, at = _layout(ctx), str(params["at"])

    def item(table: str, job: I64, items: I64) -> pa.Array:
        done = ds.completed_at(table, items)
        if at != "created":
            return col.seconds_to_timestamp(done)
        took = ds.stream(TABLE, "duration").integers(job, 5, 900)
        return col.seconds_to_timestamp(np.maximum(done - took, ds.window[0]))

    def extra(job: I64, extras: I64) -> pa.Array:
        created = ds.in_window(TABLE, "created_at", job)
        if at == "created":
            return col.seconds_to_timestamp(created)
        finished = ds.later(TABLE, "completed_at", job, created)
        if at == "updated":
            return col.seconds_to_timestamp(finished)
        pending = np.asarray(ds.extra_statuses[0] or [""])[extra_status(ds, extras)] == "pending"
        return col.seconds_to_timestamp(finished, mask=pending)

    return lambda f: by_segment(ds, f.idx, item, extra)


@register("genonaut.job_content_id")
def job_content_id(params: dict[str, Any], ctx: Any) -> Fn:
    """The item's id for jobs of content_items; NULL for the auto items' and the extra jobs."""
    ds = _layout(ctx)

    def item(table: str, job: I64, items: I64) -> pa.Array:
        ids = (items + ds.id_offset[table]).astype(np.int32)
        return pa.array(ids, mask=np.full(len(job), table != "content_items"))

    return lambda f: by_segment(ds, f.idx, item, lambda job, extra: pa.nulls(len(job), pa.int32()))


@register("genonaut.job_size")
def job_size(params: dict[str, Any], ctx: Any) -> Fn:
    """``params.dim`` (width or height) of the item's resolution; an extra job draws its own."""
    ds, k = _layout(ctx), 0 if params["dim"] == "width" else 1
    own = ds.stream(TABLE, "resolution")
    return lambda f: by_segment(
        ds,
        f.idx,
        lambda t, job, item: pa.array(ds.item_size(t, item)[k].astype(np.int32)),
        lambda job, extra: pa.array(
            ds.size_of(own.integers(job, 0, ds.n_sizes - 1))[k].astype(np.int32)
        ),
    )


@register("genonaut.lora_models")
def lora_models(params: dict[str, Any], ctx: Any) -> Fn:
    """A list of 0-3 distinct seed-static LoRAs as JSON, by the demo's shares."""
    loras, weights = lora_lists()
    return lambda f: pc.take(loras, pa.array(ctx.stream.choice(f.idx, weights)))


# The job columns the app tables read (events, metrics, notifications): never the prompt.
APP_COLUMNS = (
    "id",
    "user_id",
    "status",
    "created_at",
    "updated_at",
    "completed_at",
    "content_id",
    "checkpoint_model",
    "width",
    "height",
    "batch_size",
)


def generation_jobs(ds: Any, idx: I64) -> dict[str, pa.Array]:
    """Job rows ``idx`` as the spec engine makes them (``ds.gen``, the genonaut dataset's
    ``Generator``), re-evaluated column by column: only ``APP_COLUMNS`` and what they depend on
    are computed, so the app tables never pay for prompts."""
    frame = ds.gen.frame("generation_jobs", idx)
    return {column: frame.get(column) for column in APP_COLUMNS}
