"""SQLAlchemy models of the genonaut tables seedgen fills, mirroring the real schema.

Source of truth: joeflack4/genonaut at alembic head b4f6d6bbfb89 (see
``shared/reference/genonaut``). ``content_items_all`` is ``PARTITION BY LIST (source_type)`` with
partitions ``content_items`` ('items') and ``content_items_auto`` ('auto'); the partitions are
declared as their own tables and attached with ``ALTER TABLE ... ATTACH PARTITION`` (their
``info["attach"]``), exactly as the app's migrations leave them. Defaults that exist only in the
app (not in the DDL) are not declared here: the generator writes those values itself.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Sequence,
    String,
    Table,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

CONTENT_SEQ = Sequence("content_items_id_seq", start=3000000, metadata=metadata)


def _ts(name: str, nullable: bool = False) -> Column[Any]:
    return Column(name, DateTime(timezone=False), nullable=nullable)


users = Table(
    "users",
    metadata,
    Column("id", Uuid(as_uuid=False), primary_key=True),
    Column("username", String(50), nullable=False),
    Column("email", String(255), nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
    Column("preferences", JSONB),
    Column("is_active", Boolean, nullable=False),
    Column("favorite_tag_ids", JSONB),
    Index("ix_users_username", "username", unique=True),
    Index("ix_users_email", "email", unique=True),
    Index("idx_users_active_created", "is_active", text("created_at DESC")),
    Index("idx_users_created_at_desc", text("created_at DESC")),
    Index("idx_users_email_lower", text("lower((email)::text)")),
    Index("idx_users_favorite_tags_gin", "favorite_tag_ids", postgresql_using="gin"),
    Index("idx_users_username_lower", text("lower((username)::text)")),
)

tags = Table(
    "tags",
    metadata,
    Column("id", Uuid(as_uuid=False), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("tag_metadata", JSONB, nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
    Index("ix_tags_name", "name", unique=True),
    Index("idx_tags_created_at_desc", text("created_at DESC")),
    Index("idx_tags_name", "name"),
)


def _content_columns(source_default: str | None, private_default: str) -> list[Column[Any]]:
    id_default = None if source_default is None else text("nextval('content_items_id_seq')")
    source = (
        Column("source_type", Text, nullable=False)
        if source_default is None
        else Column("source_type", Text, nullable=False, server_default=text(source_default))
    )
    return [
        Column("id", Integer, nullable=False, server_default=id_default),
        Column("title", String(255), nullable=False),
        Column("content_type", String(50), nullable=False),
        Column("content_data", Text, nullable=False),
        Column("item_metadata", JSONB),
        Column("creator_id", Uuid(as_uuid=False), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        Column("quality_score", Double),
        Column("is_private", Boolean, nullable=False, server_default=text(private_default)),
        Column("path_thumb", String(512)),
        Column("prompt", String(20000), nullable=False),
        Column("path_thumbs_alt_res", JSONB),
        source,
    ]


content_items_all = Table(
    "content_items_all",
    metadata,
    *_content_columns(None, "false"),
    Index("content_items_all_uidx_id_src", "id", "source_type", unique=True),
    postgresql_partition_by="LIST (source_type)",
)


def _partition(name: str, prefix: str, fts: str, uidx: str, source: str) -> Table:
    table = Table(
        name,
        metadata,
        *_content_columns(f"'{source}'::text", "NULL"),
        PrimaryKeyConstraint("id", name=f"{name}_pkey"),
        ForeignKeyConstraint(["creator_id"], ["users.id"], name=f"{name}_creator_id_fkey"),
        Index(uidx, "id", "source_type", unique=True),
        Index(
            fts,
            text(
                "to_tsvector('english'::regconfig, (COALESCE(title, ''::character varying))::text)"
            ),
            postgresql_using="gin",
        ),
        Index(f"idx_{prefix}_created_at_desc", text("created_at DESC")),
        Index(f"idx_{prefix}_created_id_desc", text("created_at DESC"), text("id DESC")),
        Index(f"idx_{prefix}_creator_created", "creator_id", text("created_at DESC")),
        Index(f"idx_{prefix}_metadata_gin", "item_metadata", postgresql_using="gin"),
        Index(
            f"idx_{prefix}_public_created",
            text("created_at DESC"),
            postgresql_where=text("is_private = false"),
        ),
        Index(f"idx_{prefix}_quality_created", text("quality_score DESC"), text("created_at DESC")),
        Index(
            f"idx_{prefix}_title_gist",
            "title",
            postgresql_using="gist",
            postgresql_ops={"title": "gist_trgm_ops"},
        ),
        Index(f"idx_{prefix}_type_created", "content_type", text("created_at DESC")),
        Index(f"ix_{prefix}_content_type", "content_type"),
        Index(f"ix_{prefix}_creator_id", "creator_id"),
        info={
            "attach": f"ALTER TABLE content_items_all ATTACH PARTITION {name} "
            f"FOR VALUES IN ('{source}')"
        },
    )
    table.add_is_dependent_on(content_items_all)
    return table


content_items = _partition(
    "content_items", "content_items", "ci_title_fts_idx", "items_uidx_id_src", "items"
)
content_items_auto = _partition(
    "content_items_auto", "content_items_auto", "cia_title_fts_idx", "auto_uidx_id_src", "auto"
)

generation_jobs = Table(
    "generation_jobs",
    metadata,
    Column("id", Integer, Identity(start=1), primary_key=True),
    Column("user_id", Uuid(as_uuid=False), ForeignKey("users.id"), nullable=False),
    Column("job_type", String(50), nullable=False),
    Column("prompt", String(20000), nullable=False),
    Column("status", String(20), nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
    _ts("started_at", nullable=True),
    _ts("completed_at", nullable=True),
    Column("error_message", Text),
    Column("params", JSONB),
    Column("content_id", Integer, ForeignKey("content_items.id", ondelete="SET NULL")),
    Column("celery_task_id", String(255)),
    Column("negative_prompt", Text),
    Column("checkpoint_model", String(255)),
    Column("lora_models", JSONB),
    Column("width", Integer),
    Column("height", Integer),
    Column("batch_size", Integer),
    Column("comfyui_prompt_id", String(255)),
    Index(
        "gj_prompt_fts_idx",
        text(
            "to_tsvector('english'::regconfig, "
            "(COALESCE(prompt, (''::text)::character varying))::text)"
        ),
        postgresql_using="gin",
    ),
    Index(
        "idx_generation_jobs_celery_task_id",
        "celery_task_id",
        postgresql_where=text("celery_task_id IS NOT NULL"),
    ),
    Index(
        "idx_generation_jobs_comfyui_prompt_id",
        "comfyui_prompt_id",
        postgresql_where=text("comfyui_prompt_id IS NOT NULL"),
    ),
    Index(
        "idx_generation_jobs_completed_at_desc",
        text("completed_at DESC"),
        postgresql_where=text("completed_at IS NOT NULL"),
    ),
    Index("idx_generation_jobs_created_at_desc", text("created_at DESC")),
    Index(
        "idx_generation_jobs_prompt_gist",
        "prompt",
        postgresql_using="gist",
        postgresql_ops={"prompt": "gist_trgm_ops"},
    ),
    Index("idx_generation_jobs_status_created", "status", text("created_at DESC")),
    Index(
        "idx_generation_jobs_status_created_priority",
        "status",
        "created_at",
        postgresql_where=text(
            "(status)::text = ANY ((ARRAY['pending'::character varying, "
            "'running'::character varying])::text[])"
        ),
    ),
    Index("idx_generation_jobs_type_created", "job_type", text("created_at DESC")),
    Index("idx_generation_jobs_user_created", "user_id", text("created_at DESC")),
    Index("idx_generation_jobs_user_status_created", "user_id", "status", text("created_at DESC")),
    Index("idx_generation_jobs_user_type_created", "user_id", "job_type", text("created_at DESC")),
    Index("ix_generation_jobs_celery_task_id", "celery_task_id"),
    Index("ix_generation_jobs_comfyui_prompt_id", "comfyui_prompt_id"),
    Index("ix_generation_jobs_job_type", "job_type"),
    Index("ix_generation_jobs_status", "status"),
    Index("ix_generation_jobs_user_id", "user_id"),
)

content_tags = Table(
    "content_tags",
    metadata,
    Column("content_id", Integer, primary_key=True),
    Column("content_source", String(10), primary_key=True),
    Column(
        "tag_id", Uuid(as_uuid=False), ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True
    ),
    Index("idx_content_tags_content", "content_id", "content_source"),
    Index("idx_content_tags_tag_content", "tag_id", "content_id"),
    Index("idx_content_tags_tag_src_content", "tag_id", "content_source", "content_id"),
)

tag_parents = Table(
    "tag_parents",
    metadata,
    Column(
        "tag_id", Uuid(as_uuid=False), ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True
    ),
    Column(
        "parent_id",
        Uuid(as_uuid=False),
        ForeignKey("tags.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Index("idx_tag_parents_parent", "parent_id"),
    Index("idx_tag_parents_tag", "tag_id"),
)

# The two tables the app's background tasks rebuild (``refresh_tag_cardinality_stats`` daily,
# ``refresh_gen_source_stats`` hourly); the generator writes what those tasks would compute.
tag_cardinality_stats = Table(
    "tag_cardinality_stats",
    metadata,
    Column(
        "tag_id", Uuid(as_uuid=False), ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("content_source", String(10), primary_key=True),
    Column("cardinality", Integer, nullable=False),
    _ts("updated_at"),
    Index("idx_tag_cardinality_stats_tag_src", "tag_id", "content_source"),
)

gen_source_stats = Table(
    "gen_source_stats",
    metadata,
    Column("id", Integer, Identity(start=1), primary_key=True),
    Column("user_id", Uuid(as_uuid=False), ForeignKey("users.id", ondelete="CASCADE")),
    Column("source_type", String(10), nullable=False),
    Column("count", Integer, nullable=False),
    _ts("updated_at"),
    Index(
        "idx_gen_source_stats_community",
        "source_type",
        unique=True,
        postgresql_where=text("user_id IS NULL"),
    ),
    Index(
        "idx_gen_source_stats_user_src",
        "user_id",
        "source_type",
        unique=True,
        postgresql_where=text("user_id IS NOT NULL"),
    ),
)

#: Extensions the indexes need (trigram GiST).
EXTENSIONS = ["pg_trgm", "btree_gin"]

# The app's activity tables live in app_models, on this same metadata: imported here so that
# ``models.metadata`` always holds every table of the app, whoever imports it first.
from generator.datasets.genonaut import app_models  # noqa: E402, F401
