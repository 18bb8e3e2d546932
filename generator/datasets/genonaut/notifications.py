"""``user_notifications`` (app.md §1.7, §3.7): what the worker writes after a job ends, for the
users who opted in. One row per terminal job of an opted-in user: ``job_completed`` for a
completed job that produced a ``content_items`` row (``related_content_id`` = it), ``job_failed``
for a failed one, ``job_cancelled`` for a cancelled one; ``related_job_id`` = the job, ``user_id``
= the job's user, ``created_at`` seconds after the job's ``completed_at``; ``read_at`` iff read.
Jobs of auto items have no content row and the app never notifies them; pending jobs neither.

Opt-in: the app notifies only users whose ``preferences.notifications_enabled`` is true, but the
spec fixes ``preferences`` to exactly ``{"favorite_tags": [...]}``. The spec wins: preferences stay
as they are and a keyed share of users (``notification_user_share``, decided from the user id)
gets notifications, as if opted in. The app would write no notification for them itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from generator import columns as col
from generator.datasets.genonaut import activity, jobs

if TYPE_CHECKING:
    from generator.datasets.genonaut.layout import Layout as GenonautDataset

T = "user_notifications"
#: stored status word -> (type, title, message)
KINDS = {
    "completed": ("job_completed", "Generation Complete", "Your image generation has completed."),
    "failed": ("job_failed", "Generation Failed", "Your image generation failed. Error: "),
    "error": ("job_failed", "Generation Failed", "Your image generation failed. Error: "),
    "cancelled": ("job_cancelled", "Generation Cancelled", "Your image generation was cancelled."),
    "canceled": ("job_cancelled", "Generation Cancelled", "Your image generation was cancelled."),
}
ERROR = "Failed to connect to ComfyUI at http://localhost:8188"


def opted_in(ds: GenonautDataset, user_id: pa.StringArray) -> NDArray[np.bool_]:
    """A keyed, per-user decision from the user id's first 32 bits."""
    head = pc.utf8_slice_codeunits(user_id, 0, 8).to_numpy(zero_copy_only=False)
    bits = np.array([int(h, 16) for h in head], dtype=np.int64)
    salt = int(ds.stream(T, "opt_in").key) & 0xFFFFFFFF
    return ((bits ^ salt) & 0xFFFFFFFF) < ds.settings.notification_user_share * 2**32


def _jobs(ds: GenonautDataset, idx: NDArray[np.int64]) -> NDArray[np.int64]:
    """Job rows that can notify: the items' jobs and the extra jobs (not the auto items')."""
    return idx[(idx < ds.n["content_items"]) | (idx >= ds.n_content)]


def user_notifications(ds: GenonautDataset, idx: NDArray[np.int64]) -> dict[str, pa.Array]:
    job = _jobs(ds, idx)
    if not len(job):
        job = idx[:1]  # a job of the auto items: built, then dropped (no notification)
    rows = jobs.generation_jobs(activity.without_prompts(ds), job)
    status = rows["status"].to_numpy(zero_copy_only=False)
    notifies = (job < ds.n["content_items"]) | (job >= ds.n_content)
    keep = notifies & np.isin(status, list(KINDS)) & opted_in(ds, rows["user_id"])
    job, status = job[keep], status[keep]
    rows = activity.take(rows, keep)
    kind = [KINDS[s] for s in status]
    done = rows["completed_at"].cast(pa.int64()).to_numpy(zero_copy_only=False) // 1_000_000
    created = done + ds.stream(T, "created_at").integers(job, 1, 30)
    read = ds.stream(T, "read_status").bernoulli(job, ds.settings.notification_read_share)
    message = [k[2] + (ERROR if k[0] == "job_failed" else "") for k in kind]
    return {
        "id": pa.array((ds.settings.key_offset + 1 + job).astype(np.int32)),
        "user_id": rows["user_id"],
        "title": pa.array([k[1] for k in kind], pa.string()),
        "message": pa.array(message, pa.string()),
        "notification_type": pa.array([k[0] for k in kind], pa.string()),
        "read_status": pa.array(read),
        "related_job_id": rows["id"],
        "related_content_id": rows["content_id"],
        "created_at": col.seconds_to_timestamp(created),
        "read_at": col.seconds_to_timestamp(ds.later(T, "read_at", job, created), mask=~read),
    }
