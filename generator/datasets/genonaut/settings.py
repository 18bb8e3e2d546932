"""The genonaut options: config.json section ``seed_data`` (alias ``seed_data_generator``).

Defaults are the spec's (seed 002, 000 where 002 is silent) and the app's last config
(``target_rows_users`` 500). Every key is also a CLI flag of ``seedgen generate genonaut``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from generator.datasets.genonaut.app_settings import AppTableSettings
from generator.datasets.genonaut.vocabulary import VOCABULARY, canonical_domain
from seedgen.settings import GenerateSettings

DEFAULT_STATUS_WEIGHTS = {"completed": 98.0, "pending": 0.9, "canceled": 0.1, "error": 1.0}
#: The spec's status words the app's API does not accept -> the app's words (app.md §1.3).
DEFAULT_STATUS_WORDS = {"canceled": "cancelled", "error": "failed"}
_RELATIVE = re.compile(r"now(?:-(\d+)([dh]))?")
DEFAULT_TEMPLATES = ["{{ domain }}, {{ general }}", "{{ general }}, {{ domain }}"]


class GenonautSettings(AppTableSettings, GenerateSettings):
    images_dir: str = Field("data/images", min_length=1, description="prefix of content_data paths")
    batch_size_content_items: int = Field(2000, ge=1, description="rows per COPY batch")
    batch_size_content_items_auto: int = Field(2000, ge=1, description="rows per COPY batch")
    target_rows_content_items: int = Field(20_000, ge=0, description="rows of content_items")
    target_rows_content_items_auto: int = Field(
        100_000, ge=0, description="rows of content_items_auto"
    )
    target_rows_users: int = Field(500, ge=2, description="users, admin included")
    admin_rows_per_content_table: int = Field(
        50, ge=0, description="exact admin-owned rows per content table"
    )
    prompt_types: list[str] = Field(
        default_factory=list, description="restrict prompt domains (comma list; empty = all 30)"
    )
    domain_phrases_min: int = Field(4, ge=1, description="domain phrases per prompt, lower bound")
    domain_phrases_max: int = Field(30, ge=1, description="domain phrases per prompt, upper bound")
    general_phrases_min: int = Field(0, ge=0, description="general phrases per prompt, lower bound")
    general_phrases_max: int = Field(
        10, ge=0, description="general phrases per prompt, upper bound"
    )
    prompt_templates: list[str] = Field(
        default_factory=lambda: list(DEFAULT_TEMPLATES),
        description="Jinja2 templates over {{ domain }} and {{ general }}",
    )
    tags_per_item_min: int = Field(0, ge=0, description="item_metadata.tags per item, lower bound")
    tags_per_item_max: int = Field(
        200, ge=0, description="upper bound (capped at the 101 distinct pool names)"
    )
    favorite_tags_min: int = Field(0, ge=0, description="users' favorite tags, lower bound")
    favorite_tags_max: int = Field(
        10, ge=0, description="upper bound (capped at the 101 distinct pool names)"
    )
    status_weights: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_STATUS_WEIGHTS),
        description="job status shares over all jobs (the spec's words)",
    )
    status_words: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_STATUS_WORDS),
        description="status word stored for a status_weights word ({} = the spec's words)",
    )
    job_type: str = Field(
        "image_generation",
        min_length=1,
        max_length=50,
        description="generation_jobs.job_type ('image' = the spec's and the ComfyUI path's word)",
    )
    content_id_start: int = Field(
        3_000_000, ge=1, description="first content id (the app's content_items_id_seq START)"
    )
    job_id_start: int = Field(
        1_000_000, ge=1, description="first generation_jobs id (clear of the app's test ids)"
    )
    tag_popularity_exponent: float = Field(
        1.0, ge=0, le=10, description="Zipf exponent of tag popularity (0 = every tag alike)"
    )
    is_active_share: float = Field(0.99, ge=0, le=1, description="share of active users")
    is_private_share: float = Field(0.10, ge=0, le=1, description="share of private items")
    window_start: datetime = Field(
        datetime(2025, 5, 1, 0, 0, 0),
        description="date window start, local time (or 'now-<N>d', 'now-<N>h')",
    )
    window_end: datetime = Field(
        datetime(2025, 9, 21, 23, 59, 59),
        description="date window end, local time ('now' = the generation instant, recorded)",
    )
    timezone: str = Field("America/New_York", description="zone of the window; stored as naive UTC")

    @field_validator("prompt_types")
    @classmethod
    def _known_domains(cls, value: list[str]) -> list[str]:
        return [canonical_domain(v) for v in value]

    @field_validator("status_weights")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        if value.get("completed", 0) <= 0:
            raise ValueError("needs a positive 'completed' weight (one completed job per item)")
        if any(w < 0 for w in value.values()):
            raise ValueError("weights must be >= 0")
        if any(len(k) > 20 or not k for k in value):
            raise ValueError("status names must be 1-20 characters (generation_jobs.status)")
        return value

    @model_validator(mode="before")
    @classmethod
    def _resolve_now(cls, data: Any) -> Any:
        """'now' / 'now-<N>d|h' become one instant (local time, whole seconds), so the settings
        (and the manifest's config) hold what was used and regenerate the same set."""
        if not isinstance(data, dict):
            return data
        keys = [k for k in ("window_start", "window_end") if isinstance(data.get(k), str)]
        matches = {k: _RELATIVE.fullmatch(data[k].strip().lower()) for k in keys}
        if not any(matches.values()):
            return data
        zone = data.get("timezone", cls.model_fields["timezone"].default)
        try:
            now = datetime.now(ZoneInfo(zone)).replace(tzinfo=None, microsecond=0)
        except (ZoneInfoNotFoundError, ValueError):
            return data  # the timezone validator names the problem
        out = dict(data)
        for key, match in matches.items():
            if match:
                amount = int(match.group(1) or 0)
                unit = {"d": "days", "h": "hours"}[match.group(2) or "d"]
                out[key] = now - timedelta(**{unit: amount})
        return out

    @field_validator("status_words")
    @classmethod
    def _words(cls, value: dict[str, str]) -> dict[str, str]:
        if any(len(v) > 20 or not v for v in value.values()):
            raise ValueError("status words must be 1-20 characters (generation_jobs.status)")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (e.g. America/New_York)") from exc
        return value

    @model_validator(mode="after")
    def _ranges(self) -> GenonautSettings:
        for low, high in (
            ("domain_phrases_min", "domain_phrases_max"),
            ("general_phrases_min", "general_phrases_max"),
            ("tags_per_item_min", "tags_per_item_max"),
            ("favorite_tags_min", "favorite_tags_max"),
            ("window_start", "window_end"),
        ):
            if getattr(self, low) > getattr(self, high):
                raise ValueError(f"{low} must not exceed {high}")
        stored = [self.stored_status(k) for k in self.status_weights]
        if len(set(stored)) < len(stored):
            raise ValueError(
                f"status_words map two status_weights words onto one: {', '.join(stored)}"
            )
        smallest = min(len(VOCABULARY.domains[d]) for d in self.domains())
        if self.domain_phrases_min > smallest:
            raise ValueError(
                f"domain_phrases_min {self.domain_phrases_min} exceeds the smallest "
                f"chosen domain list ({smallest} phrases)"
            )
        if self.general_phrases_min > 20:
            raise ValueError(
                "general_phrases_min must be <= 20 (phrases shared with a domain "
                "list are excluded from its prompts)"
            )
        distinct_tags = len(VOCABULARY.tag_names)
        for key in ("tags_per_item_min", "favorite_tags_min"):
            if getattr(self, key) > distinct_tags:
                raise ValueError(f"{key} exceeds the {distinct_tags} distinct tag names")
        for table in ("content_items", "content_items_auto"):
            if self.admin_rows_per_content_table > getattr(self, f"target_rows_{table}"):
                raise ValueError(f"admin_rows_per_content_table exceeds target_rows_{table}")
        return self

    def stored_status(self, word: str) -> str:
        """The status written for a ``status_weights`` word."""
        return self.status_words.get(word, word)

    def domains(self) -> list[str]:
        return self.prompt_types or list(VOCABULARY.domains)
