"""generation_jobs rows the app's API can read (``shared/reference/genonaut/app.md`` §1.2-1.5).

Rows ``[0, N)`` complete the items, ``[N, N+M)`` the auto items (same user, prompt and time as
their item), then the extra, never-completed jobs. The spec's words and blanks are kept where the
app accepts them: ``started_at`` and ``error_message`` stay NULL. What the app's response model
needs is filled the way the app's own API path fills it: ``job_type`` ``image_generation``, status
words from the app's vocabulary (``status_words`` maps the spec's), a ``params`` object holding
the request (backend, sampler parameters, model, LoRAs, size, batch), and the same model, LoRA
list, size and batch in their own columns. A job's width and height are its item's resolution.
"""

from __future__ import annotations

import itertools
import json
from functools import lru_cache
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from generator import columns as col

if TYPE_CHECKING:
    from generator.datasets.genonaut.dataset import GenonautDataset

TABLE = "generation_jobs"
T = TypeVar("T", int, str)
#: The seed-static checkpoints (app.md §5.3), weighted like the demo's API jobs (§1.5).
CHECKPOINTS = (
    ("sd_xl_base_1.0", 40.0),
    ("deliberate_v2", 30.0),
    ("dreamshaper_8", 15.0),
    ("realisticVisionV51", 10.0),
    ("sd_v1-5-pruned-emaonly", 5.0),
)
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
BATCH_SIZES = ((1, 96.0), (2, 3.0), (3, 1.0))  # the demo: 298 / 9 / 3
NEGATIVE_PROMPTS = (("", 95.0), ("blurry, low quality, artifacts", 5.0))
#: The frontend form's sampler defaults (202 of the demo's 215 completed API jobs), seed drawn.
SAMPLER_REST = (
    '"steps": 20, "cfg": 7.0, "sampler_name": "euler_ancestral", "scheduler": "normal", '
    '"denoise": 1.0}'
)
#: Nullable columns the spec leaves empty (``started_at``, ``error_message``) or the app sets
#: only on its ComfyUI path; the engine writes them as NULL.
NULL_COLUMNS = frozenset({"started_at", "error_message", "celery_task_id", "comfyui_prompt_id"})


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


def _weighted(
    ds: GenonautDataset, column: str, idx: NDArray[np.int64], table: tuple[tuple[T, float], ...]
) -> pa.Array:
    """A value of ``table`` per row, drawn by weight (strings as text, numbers as numbers)."""
    which = ds.stream(TABLE, column).choice(idx, [w for _, w in table])
    return pc.take(pa.array([v for v, _ in table]), pa.array(which))


def request_columns(
    ds: GenonautDataset, job: NDArray[np.int64], width: NDArray[np.int64], height: NDArray[np.int64]
) -> dict[str, pa.Array]:
    """The request a job was made from: model, LoRAs, size, batch, and ``params`` holding it."""
    loras, lora_weights = lora_lists()
    lora = pc.take(loras, pa.array(ds.stream(TABLE, "lora_models").choice(job, lora_weights)))
    checkpoint = _weighted(ds, "checkpoint_model", job, CHECKPOINTS)
    batch = _weighted(ds, "batch_size", job, BATCH_SIZES)
    negative = _weighted(ds, "negative_prompt", job, NEGATIVE_PROMPTS)
    seed = ds.stream(TABLE, "sampler_seed").integers(job, 0, 2**31 - 1)
    params = col.concat(
        '{"backend": "kerniegen", "sampler_params": {"seed": ',
        _text(seed),
        ", ",
        SAMPLER_REST,
        ', "negative_prompt": "',
        negative,
        '", "checkpoint_model": "',
        checkpoint,
        '", "lora_models": ',
        lora,
        ', "width": ',
        _text(width),
        ', "height": ',
        _text(height),
        ', "batch_size": ',
        pc.cast(batch, pa.string()),
        "}",
    )
    return {
        "params": params,
        "checkpoint_model": checkpoint,
        "lora_models": lora,
        "negative_prompt": negative,
        "width": pa.array(width.astype(np.int32)),
        "height": pa.array(height.astype(np.int32)),
        "batch_size": pc.cast(batch, pa.int32()),
    }


def _text(values: NDArray[np.int64]) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def generation_jobs(ds: GenonautDataset, idx: NDArray[np.int64]) -> dict[str, pa.Array]:
    parts = [item_jobs(ds, t, job, item) for t, job, item in ds.content_segments(idx)]
    extra = idx[idx >= ds.n_content]
    if len(extra):
        parts.append(extra_jobs(ds, extra, extra - ds.n_content))
    merged = {k: pa.concat_arrays([p[k] for p in parts]) for k in parts[0]}
    merged["id"] = pa.array((idx + ds.id_offset[TABLE]).astype(np.int32))
    merged["job_type"] = pa.array([ds.settings.job_type] * len(idx), pa.string())
    return merged


def item_jobs(
    ds: GenonautDataset, table: str, job: NDArray[np.int64], item: NDArray[np.int64]
) -> dict[str, pa.Array]:
    done = ds.completed_at(table, item)
    lo = ds.window[0]
    created = np.maximum(done - ds.stream(TABLE, "duration").integers(job, 5, 900), lo)
    content_id = (item + ds.id_offset[table]).astype(np.int32)
    width, height = ds.item_size(table, item)
    completed = ds.settings.stored_status("completed")
    return {
        "user_id": ds.user_ids(ds.creator(table, item)),
        "prompt": ds.prompts(table, item),
        "status": pa.array([completed] * len(job), pa.string()),
        "created_at": col.seconds_to_timestamp(created),
        "updated_at": col.seconds_to_timestamp(done),
        "completed_at": col.seconds_to_timestamp(done),
        "content_id": pa.array(content_id, mask=np.full(len(job), table != "content_items")),
        **request_columns(ds, job, width, height),
    }


def extra_jobs(
    ds: GenonautDataset, job: NDArray[np.int64], extra: NDArray[np.int64]
) -> dict[str, pa.Array]:
    names, counts = ds.extra_statuses
    status = col.quota(ds.stream(TABLE, "status"), extra, sum(counts), counts)
    status_text = col.pick([ds.settings.stored_status(n) for n in names], status)
    created = ds.in_window(TABLE, "created_at", job)
    finished = ds.later(TABLE, "completed_at", job, created)
    pending = np.asarray(names)[status] == "pending"
    width, height = ds.size_of(ds.stream(TABLE, "resolution").integers(job, 0, ds.n_sizes - 1))
    return {
        "user_id": ds.user_ids(ds.stream(TABLE, "user_id").integers(job, 1, ds.n["users"] - 1)),
        "prompt": ds.prompts(TABLE, extra),
        "status": status_text,
        "created_at": col.seconds_to_timestamp(created),
        "updated_at": col.seconds_to_timestamp(finished),
        "completed_at": col.seconds_to_timestamp(finished, mask=pending),
        "content_id": pa.nulls(len(job), pa.int32()),
        **request_columns(ds, job, width, height),
    }
