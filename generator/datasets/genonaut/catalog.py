"""The model catalogues (app.md §3.13-3.15, §5.3): the five checkpoints and five LoRAs the app's
``seed-static`` inserts, as ``sync-models-from-fs`` leaves them (``model_metadata.path_resolves``
true and an ``md5``; without it the app's model pickers hide every row), and ``available_models``
listing the same files. The jobs' ``checkpoint_model`` and ``lora_models`` name exactly these.

The rows are the same in every set (ids from the names), declared shared keys: an appended set
keeps the rows already there.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from generator import columns as col

if TYPE_CHECKING:
    from generator.datasets.genonaut.layout import Layout as GenonautDataset

_NS = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")  # uuid.NAMESPACE_URL
#: name, version, architecture, family, rating, tags (app.md §5.3)
CHECKPOINTS = (
    ("sd_xl_base_1.0", "1", "sdxl", "sdxl", 0.95, ["realistic"]),
    ("sd_v1-5-pruned-emaonly", "1.5", "sd1", "stable-diffusion", 0.88, ["versatile"]),
    (
        "realisticVisionV51",
        "5.1",
        "sd1",
        "realisticVision",
        0.92,
        ["realistic", "photography", "portrait"],
    ),
    ("dreamshaper_8", "8", "Sd1.5", "dreamshaper", 0.89, ["artistic"]),
    ("deliberate_v2", "2", "sd1", "deliberate", 0.90, ["balanced"]),
)
#: name, version, architectures, family, rating, trigger words, optimal checkpoints, weight, tags
LORAS: tuple[tuple[Any, ...], ...] = (
    ("add_detail", "1", "Sd1.5", "enhancement", 0.93, [],
     ["sd_v1-5-pruned-emaonly", "realisticVisionV51", "deliberate_v2"], 0.7,
     ["detail", "enhancement", "quality"]),
    ("cinematic_lighting", "2.1", "sd1", "style", 0.91, ["cinematic lighting", "film look"],
     ["sd_v1-5-pruned-emaonly", "dreamshaper_8"], 0.8, ["lighting", "cinematic", "style"]),
    ("portrait_enhancer", "1.5", "sd1", "portrait", 0.89, ["detailed face", "perfect eyes"],
     ["realisticVisionV51", "deliberate_v2"], 0.6, ["portrait", "face", "enhancement"]),
    ("anime_style", "3", "flux", "style", 0.87, ["anime style", "manga"],
     ["sd_v1-5-pruned-emaonly", "dreamshaper_8"], 0.75, ["anime", "style", "manga"]),
    ("watercolor_effect", "1.2", "sd1", "artistic", 0.85, ["watercolor", "traditional art"],
     ["dreamshaper_8", "deliberate_v2"], 0.65, ["watercolor", "artistic", "painting"]),
)  # fmt: skip


def model_id(kind: str, name: str) -> str:
    return str(uuid.uuid5(_NS, f"genonaut:{kind}:{name}"))


def _metadata(path: str, **extra: object) -> str:
    md5 = hashlib.md5(path.encode(), usedforsecurity=False).hexdigest()
    return json.dumps({**extra, "path_resolves": True, "md5": md5})


def _stamps(ds: GenonautDataset, n: int) -> pa.Array:
    return col.seconds_to_timestamp(np.full(n, ds.window[0], dtype=np.int64))


def models_checkpoints(ds: GenonautDataset, idx: NDArray[np.int64]) -> dict[str, pa.Array]:
    rows = [CHECKPOINTS[i] for i in idx]
    paths = [f"models/checkpoints/{r[0]}.safetensors" for r in rows]
    return {
        "id": pa.array([model_id("checkpoint", r[0]) for r in rows], pa.string()),
        "path": pa.array(paths),
        "filename": pa.array([p.rsplit("/", 1)[1] for p in paths]),
        "name": pa.array([r[0] for r in rows]),
        "version": pa.array([r[1] for r in rows]),
        "architecture": pa.array([r[2] for r in rows]),
        "family": pa.array([r[3] for r in rows]),
        "description": pa.array([f"{r[0]} checkpoint ({r[3]})" for r in rows]),
        "rating": pa.array([r[4] for r in rows], pa.float64()),
        "tags": pa.array([json.dumps(r[5]) for r in rows]),
        "model_metadata": pa.array([_metadata(p) for p in paths]),
        "created_at": _stamps(ds, len(rows)),
        "updated_at": _stamps(ds, len(rows)),
    }


def models_loras(ds: GenonautDataset, idx: NDArray[np.int64]) -> dict[str, pa.Array]:
    rows = [LORAS[i] for i in idx]
    paths = [f"models/loras/{r[0]}.safetensors" for r in rows]
    return {
        "id": pa.array([model_id("lora", r[0]) for r in rows], pa.string()),
        "path": pa.array(paths),
        "filename": pa.array([p.rsplit("/", 1)[1] for p in paths]),
        "name": pa.array([r[0] for r in rows]),
        "version": pa.array([r[1] for r in rows]),
        "compatible_architectures": pa.array([r[2] for r in rows]),
        "family": pa.array([r[3] for r in rows]),
        "description": pa.array([f"{r[0]} LoRA ({r[3]})" for r in rows]),
        "rating": pa.array([r[4] for r in rows], pa.float64()),
        "tags": pa.array([json.dumps(r[8]) for r in rows]),
        "trigger_words": pa.array([json.dumps(r[5]) for r in rows]),
        "optimal_checkpoints": pa.array([json.dumps(r[6]) for r in rows]),
        "model_metadata": pa.array(
            [_metadata(p, recommended_weight=r[7]) for p, r in zip(paths, rows, strict=True)]
        ),
        "created_at": _stamps(ds, len(rows)),
        "updated_at": _stamps(ds, len(rows)),
    }


def available(i: int) -> tuple[str, str, str]:
    """(name, type, file path) of available model ``i``: the checkpoints, then the LoRAs."""
    if i < len(CHECKPOINTS):
        name = CHECKPOINTS[i][0]
        return name, "checkpoint", f"models/checkpoints/{name}.safetensors"
    name = LORAS[i - len(CHECKPOINTS)][0]
    return name, "lora", f"models/loras/{name}.safetensors"


def available_models(ds: GenonautDataset, idx: NDArray[np.int64]) -> dict[str, pa.Array]:
    rows = [available(int(i)) for i in idx]
    return {
        "id": pa.array((idx + 1).astype(np.int32)),
        "name": pa.array([r[0] for r in rows]),
        "type": pa.array([r[1] for r in rows]),
        "file_path": pa.array([r[2] for r in rows]),
        "description": pa.array([f"{r[1]} {r[0]}" for r in rows]),
        "is_active": pa.array([True] * len(rows)),
        "created_at": _stamps(ds, len(rows)),
        "updated_at": _stamps(ds, len(rows)),
    }


N_AVAILABLE = len(CHECKPOINTS) + len(LORAS)
