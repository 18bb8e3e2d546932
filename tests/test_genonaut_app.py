"""The genonaut set as the app reads it (shared/reference/genonaut/app.md): job vocabulary and the
job columns its response model needs, tag ids and hierarchy by the app's rule, the stats tables
its background tasks compute, key ranges clear of its test ids, and the now-anchored window.

One small set, loaded once into the real schema (tests/fixtures/genonaut_schema.sql).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from psycopg import sql

from generator.datasets.genonaut import jobs
from generator.datasets.genonaut.tagtree import TAG_TREE
from loader.load import load_set
from seedgen.errors import ConfigError
from seedgen.manifest import read_manifest
from tests.conftest import SMALL, make_set, scratch_database

N_ITEMS = SMALL["target_rows_content_items"] + SMALL["target_rows_content_items_auto"]
#: app.md §1.2-1.3: the values the API's response enums accept.
JOB_TYPES = {"text_generation", "image_generation", "video_generation", "audio_generation"}
JOB_STATUSES = {"pending", "running", "completed", "failed", "cancelled"}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, server: str) -> Iterator[psycopg.Connection]:
    with scratch_database(server) as url:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("DB_USER_ADMIN_UUID", "121e194b-4caa-4b81-ad4f-86ca3919d5b9")
            small = make_set(tmp_path_factory.mktemp("app") / "set")
        load_set(small, url, echo=lambda _m: None)
        with psycopg.connect(url) as conn:
            conn.execute("SET search_path = public")
            yield conn


def rows(db: psycopg.Connection, query: str, params: tuple[object, ...] = ()) -> list[tuple]:
    return db.execute(query, params).fetchall()


def one(db: psycopg.Connection, query: str, params: tuple[object, ...] = ()) -> object:
    return rows(db, query, params)[0][0]


# ---------------------------------------------------------------------------- jobs


def test_jobs_use_the_app_vocabulary_with_the_spec_shares(db: psycopg.Connection) -> None:
    counts = dict(rows(db, "SELECT status, count(*) FROM generation_jobs GROUP BY status"))
    # the spec's 98 / 0.9 / 0.1 / 1 %: one completed job per item, then round(1300 * 2 / 98)
    # = 27 others split 0.9 : 0.1 : 1.0 by largest remainder (12.15, 1.35, 13.5)
    assert counts == {"completed": N_ITEMS, "pending": 12, "cancelled": 1, "failed": 14}
    assert set(counts) <= JOB_STATUSES
    types = {r[0] for r in rows(db, "SELECT DISTINCT job_type FROM generation_jobs")}
    assert types == {"image_generation"} <= JOB_TYPES


def test_job_columns_the_response_model_needs(db: psycopg.Connection) -> None:
    bad = {
        "params object": "jsonb_typeof(params) IS DISTINCT FROM 'object'",
        "params keys": "NOT params ?& array['backend', 'sampler_params', 'negative_prompt', "
        "'checkpoint_model', 'lora_models', 'width', 'height', 'batch_size']",
        "sampler_params": "jsonb_typeof(params->'sampler_params') <> 'object'",
        "params = columns": "params->>'checkpoint_model' <> checkpoint_model "
        "OR params->'lora_models' <> lora_models OR (params->>'width')::int <> width "
        "OR (params->>'height')::int <> height OR (params->>'batch_size')::int <> batch_size "
        "OR params->>'negative_prompt' <> negative_prompt",
        "lora_models": "jsonb_typeof(lora_models) <> 'array' OR EXISTS (SELECT 1 FROM "
        "jsonb_array_elements(lora_models) l WHERE NOT l ?& array['name', 'strength_model', "
        "'strength_clip'] OR NOT l->>'name' = ANY(%(loras)s))",
        "checkpoint": "checkpoint_model IS NULL OR NOT checkpoint_model = ANY(%(checkpoints)s)",
        "size": "width NOT BETWEEN 64 AND 4096 OR height NOT BETWEEN 64 AND 4096",
        "batch": "batch_size NOT BETWEEN 1 AND 8",
        "spec blanks": "started_at IS NOT NULL OR error_message IS NOT NULL",
    }
    params = {
        "loras": [name for name, _ in jobs.LORAS],
        "checkpoints": [name for name, _ in jobs.CHECKPOINTS],
    }
    for rule, predicate in bad.items():
        query = "SELECT count(*) FROM generation_jobs WHERE " + predicate
        assert db.execute(query, params).fetchone() == (0,), rule
    assert one(db, "SELECT count(DISTINCT lora_models) FROM generation_jobs") > 5
    assert one(db, "SELECT count(DISTINCT checkpoint_model) FROM generation_jobs") == 5


def test_a_jobs_size_is_its_items_resolution(db: psycopg.Connection) -> None:
    for table, link in (
        ("content_items", "j.content_id = c.id"),
        (
            "content_items_auto",
            "j.content_id IS NULL AND j.prompt = c.prompt "
            "AND j.user_id = c.creator_id AND j.completed_at = c.created_at",
        ),
    ):
        query = sql.SQL(
            "SELECT count(*), count(*) FILTER (WHERE c.item_metadata->>'resolution' "
            "IS DISTINCT FROM j.width || 'x' || j.height) FROM {} c JOIN generation_jobs j ON "
            + link
            + " AND j.status = 'completed'"
        ).format(sql.Identifier(table))
        matched, wrong = rows(db, query.as_string(db))[0]
        assert matched >= SMALL[f"target_rows_{table}"] and wrong == 0, table


def test_integer_keys_clear_the_apps_own_ids(db: psycopg.Connection) -> None:
    # the app's content sequence starts at 3,000,000; its tests probe jobs 999 and 999,999
    assert one(db, "SELECT min(id) FROM content_items_all") == 3_000_000
    assert one(db, "SELECT min(id) FROM generation_jobs") == 1_000_000
    assert one(db, "SELECT count(*) FROM generation_jobs WHERE id IN (999, 99999, 999999)") == 0
    assert one(db, "SELECT nextval('content_items_id_seq')") == 3_000_000 + N_ITEMS


# ---------------------------------------------------------------------------- tags


def test_tag_ids_follow_the_apps_rule(db: psycopg.Connection) -> None:
    tags = dict(rows(db, "SELECT name, id::text FROM tags"))
    assert len(tags) == 127
    assert all(tags[name] == str(uuid.uuid5(uuid.NAMESPACE_DNS, name)) for name in tags)
    known = {  # app.md §2.3-2.4, computed there from the app's rule
        "anime": "6e2f9be5-7116-55a8-9bc2-ce20ace35d08",
        "artistic_medium": "af582325-8453-59ee-b320-f2ec9758161f",
        "bird's-eye": "e8c1cf03-72aa-51f9-9cf3-30208328dbf2",
        "3d-render": "f176aa28-48c2-5786-92c3-37df46d1393b",
        "surreal_art": "f60b33a0-abde-56ab-8362-002b364e22d4",
    }
    assert {name: tags[name] for name in known} == known


def test_item_tags_are_tag_names_of_the_pool(db: psycopg.Connection) -> None:
    on_items = {
        r[0]
        for r in rows(
            db,
            "SELECT DISTINCT x FROM content_items_all, "
            "jsonb_array_elements_text(item_metadata->'tags') x",
        )
    }
    assert on_items == set(TAG_TREE.leaves)
    names = {r[0] for r in rows(db, "SELECT name FROM tags")}
    assert on_items <= names and len(names - on_items) == 26  # the categories


def test_tag_hierarchy_with_second_parents(db: psycopg.Connection) -> None:
    assert one(db, "SELECT count(*) FROM tag_parents") == 129
    roots = rows(
        db,
        "SELECT name FROM tags t WHERE NOT EXISTS "
        "(SELECT 1 FROM tag_parents p WHERE p.tag_id = t.id) ORDER BY name",
    )
    assert [r[0] for r in roots] == [
        "artistic_medium",
        "content_classification",
        "technical_execution",
        "visual_aesthetics",
    ]
    two = rows(
        db,
        "SELECT t.name FROM tag_parents p JOIN tags t ON t.id = p.tag_id "
        "GROUP BY t.name HAVING count(*) = 2 ORDER BY 1",
    )
    assert [r[0] for r in two] == [
        "cinematic",
        "cinematic-framing",
        "editorial",
        "editorial-style",
        "magazine-cover",
        "surreal",
    ]
    leaves_with_children = one(
        db,
        "SELECT count(*) FROM tag_parents p JOIN tags t ON t.id = p.parent_id "
        "WHERE t.name = ANY(%s)",
        (list(TAG_TREE.leaves),),
    )
    assert leaves_with_children == 0
    deepest = one(
        db,
        "WITH RECURSIVE up(tag_id, depth) AS (SELECT id, 0 FROM tags UNION ALL "
        "SELECT p.parent_id, up.depth + 1 FROM up JOIN tag_parents p ON p.tag_id = up.tag_id "
        "WHERE up.depth < 10) SELECT max(depth) FROM up",
    )
    assert deepest == 3, "no cycles: the deepest leaf is three levels below its root"


def test_tag_popularity_is_skewed(db: psycopg.Connection) -> None:
    counts = [
        r[0]
        for r in rows(
            db, "SELECT count(*) FROM content_tags GROUP BY tag_id ORDER BY count(*) DESC"
        )
    ]
    assert len(counts) == 101
    # Zipf exponent 1 with 0-101 tags per item: the favourite tag is on ~95 % of items, the
    # least popular on ~31 % (uniform choice put every tag on ~50 %)
    assert counts[0] > 0.85 * N_ITEMS and counts[-1] < 0.40 * N_ITEMS


# ---------------------------------------------------------------------------- derived tables


def test_stats_tables_equal_the_apps_definitions(db: psycopg.Connection) -> None:
    # TagRepository.refresh_tag_cardinality_stats and ContentRepository.refresh_gen_source_stats
    app_tag_stats = (
        "SELECT tag_id, content_source, count(DISTINCT content_id)::int FROM content_tags "
        "GROUP BY tag_id, content_source"
    )
    ours_tag_stats = "SELECT tag_id, content_source, cardinality FROM tag_cardinality_stats"
    app_source_stats = (
        "SELECT NULL::uuid, 'regular', count(*)::int FROM content_items UNION ALL "
        "SELECT NULL::uuid, 'auto', count(*)::int FROM content_items_auto UNION ALL "
        "SELECT creator_id, 'regular', count(*)::int FROM content_items GROUP BY creator_id "
        "UNION ALL SELECT creator_id, 'auto', count(*)::int FROM content_items_auto "
        "GROUP BY creator_id"
    )
    ours_source_stats = "SELECT user_id, source_type, count FROM gen_source_stats"
    for app, ours in ((app_tag_stats, ours_tag_stats), (app_source_stats, ours_source_stats)):
        assert (
            one(db, f"SELECT count(*) FROM ({app}) a")
            == one(db, f"SELECT count(*) FROM ({ours}) o")
            > 0
        )
        for a, b in ((app, ours), (ours, app)):
            assert one(db, f"SELECT count(*) FROM (({a}) EXCEPT ({b})) d") == 0, a
    assert one(db, "SELECT count(DISTINCT updated_at) FROM gen_source_stats") == 1


# ---------------------------------------------------------------------------- settings


TINY = {**SMALL, "target_rows_content_items": 60, "target_rows_content_items_auto": 90}


def test_a_now_anchored_window_is_recorded_and_reproducible(tmp_path: Path) -> None:
    zone = ZoneInfo("America/New_York")
    before = datetime.now(zone).replace(tzinfo=None, microsecond=0)
    first = make_set(tmp_path / "now", **TINY, window_end="now", window_start="now-7d")
    config = read_manifest(first).config
    end = datetime.fromisoformat(config["window_end"])
    assert before <= end <= datetime.now(zone).replace(tzinfo=None)
    assert datetime.fromisoformat(config["window_start"]) == end - timedelta(days=7)
    created = pq.read_table(first / read_manifest(first).table("content_items").shards[0].file)
    utc_now = datetime.now(ZoneInfo("UTC")).replace(tzinfo=None)
    newest = max(created.column("created_at").to_pylist())
    assert utc_now - timedelta(days=7, minutes=5) < newest <= utc_now
    again = make_set(
        tmp_path / "again",
        **TINY,
        window_end=config["window_end"],
        window_start=config["window_start"],
    )
    for table in ("content_items", "generation_jobs"):
        a, b = (
            pq.read_table(s / read_manifest(s).table(table).shards[0].file) for s in (first, again)
        )
        assert a.equals(b), table


def test_the_spec_words_remain_available(tmp_path: Path) -> None:
    spec = make_set(tmp_path / "spec", status_words={}, job_type="image")
    shards = read_manifest(spec).table("generation_jobs").shards
    jobs_table = pa.concat_tables(pq.read_table(spec / s.file) for s in shards)
    assert set(jobs_table.column("status").to_pylist()) == {
        "completed",
        "pending",
        "canceled",
        "error",
    }
    assert set(jobs_table.column("job_type").to_pylist()) == {"image"}
    with pytest.raises(ConfigError, match="status_words"):
        make_set(tmp_path / "bad", **TINY, status_words={"error": "pending"})
