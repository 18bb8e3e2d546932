"""The genonaut tables beyond the content core (app.md §3): filled, every reference resolving,
the app's vocabularies with their configured shares, and the consistency rules the schema does
not enforce. One small set, loaded into the schema built from the dump and into one built from
the models (``--create-schema``: the DDL SQLAlchemy emits, the way the app's migrations build it);
``verify`` passes after both.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import psycopg
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import sql

from generator.datasets.genonaut import activity
from generator.datasets.genonaut.app_settings import DEFAULT_INTERACTION_WEIGHTS, INTERACTION_TYPES
from generator.datasets.genonaut.app_tables import BUILDERS
from generator.datasets.genonaut.dataset import GenonautDataset
from generator.datasets.genonaut.settings import GenonautSettings
from loader.check import verify_database
from loader.load import LoadOptions, load_set
from tests.conftest import ADMIN, SMALL, make_set, scratch_database

APP_TABLES = tuple(BUILDERS)


@pytest.fixture(scope="module", params=["dump", "models"])
def db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, server: str
) -> Iterator[psycopg.Connection]:
    with scratch_database(server, with_schema=request.param == "dump") as url:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("DB_USER_ADMIN_UUID", ADMIN)
            small = make_set(
                tmp_path_factory.mktemp("apptables") / "set", route_analytics_rows=3000
            )
        options = LoadOptions(create_schema=request.param == "models")  # the set's DDL
        load_set(small, url, options, echo=lambda _m: None)
        lines: list[str] = []
        report = verify_database(small, url, echo=lines.append)
        assert report.problems == [], lines
        with psycopg.connect(url) as conn:
            conn.execute("SET search_path = public")
            yield conn


def one(db: psycopg.Connection, query: str, params: object = None) -> object:
    return db.execute(query, params).fetchone()[0]  # type: ignore[index]


def violations(db: psycopg.Connection, table: str, predicate: str) -> int:
    query = sql.SQL("SELECT count(*) FROM {} t WHERE ").format(sql.Identifier(table))
    return int(one(db, query.as_string(db) + predicate))  # type: ignore[call-overload]


@pytest.mark.parametrize("table", APP_TABLES)
def test_every_app_table_has_rows(db: psycopg.Connection, table: str) -> None:
    assert violations(db, table, "true") > 0


def test_interaction_types_are_the_apps_with_their_shares(db: psycopg.Connection) -> None:
    counts = dict(
        db.execute("SELECT interaction_type, count(*) FROM user_interactions GROUP BY 1").fetchall()
    )
    assert set(counts) == set(DEFAULT_INTERACTION_WEIGHTS) <= set(INTERACTION_TYPES)
    n = sum(counts.values())
    total = sum(DEFAULT_INTERACTION_WEIGHTS.values())
    for kind, weight in DEFAULT_INTERACTION_WEIGHTS.items():
        p = weight / total
        assert abs(counts[kind] / n - p) < 4 * math.sqrt(p * (1 - p) / n) + 1 / n, kind


RULES = {
    "user_interactions": [
        # visible to the user: public, or the user's own
        "EXISTS (SELECT 1 FROM content_items c WHERE c.id = t.content_item_id "
        "AND c.is_private AND c.creator_id <> t.user_id)",
        "content_item_id IS NULL OR interaction_metadata IS NULL "
        "OR jsonb_typeof(interaction_metadata) <> 'object'",
        "(rating IS NOT NULL) <> (interaction_type IN ('like', 'rate'))",
        "rating NOT BETWEEN 1 AND 5 OR (interaction_type = 'like' AND rating < 4)",
        "(duration IS NOT NULL) <> (interaction_type = 'view') OR duration < 0",
        "t.created_at < (SELECT greatest(c.created_at, u.created_at) FROM content_items c, "
        "users u WHERE c.id = t.content_item_id AND u.id = t.user_id)",
        "(SELECT count(*) FROM user_interactions o WHERE o.user_id = t.user_id "
        "AND o.content_item_id = t.content_item_id) > 1",
    ],
    "recommendations": [
        "EXISTS (SELECT 1 FROM content_items c WHERE c.id = t.content_item_id "
        "AND (c.creator_id = t.user_id OR c.is_private))",
        "content_item_id IS NULL OR jsonb_typeof(rec_metadata) <> 'object'",
        "is_served <> (served_at IS NOT NULL) OR served_at < created_at",
        "recommendation_score NOT BETWEEN 0 AND 1",
        "t.created_at < (SELECT greatest(c.created_at, u.created_at) FROM content_items c, "
        "users u WHERE c.id = t.content_item_id AND u.id = t.user_id)",
    ],
    "tag_ratings": [
        "rating NOT BETWEEN 1 AND 5 OR rating * 2 <> floor(rating * 2)",
        "updated_at < created_at",
        "created_at < (SELECT greatest(g.created_at, u.created_at) FROM tags g, users u "
        "WHERE g.id = t.tag_id AND u.id = t.user_id)",
    ],
    "user_search_history": [
        "length(search_query) NOT BETWEEN 1 AND 500 OR search_query <> btrim(search_query)",
        "created_at < (SELECT created_at FROM users u WHERE u.id = t.user_id)",
        "search_query ILIKE ANY (ARRAY['%%pagination%%', '%%nonexistent%%', '%%cat black%%'])",
    ],
    "bookmarks": [
        # visible: public or own; the reference resolves in the partition its type names
        "NOT EXISTS (SELECT 1 FROM content_items_all c WHERE c.id = t.content_id "
        "AND c.source_type = t.content_source_type "
        "AND (NOT c.is_private OR c.creator_id = t.user_id) "
        "AND c.created_at <= t.created_at)",
        "content_source_type NOT IN ('items', 'auto') OR deleted_at IS NOT NULL",
        "updated_at < created_at",
        # every live bookmark is in at least one category of its user
        "NOT EXISTS (SELECT 1 FROM bookmark_category_members m WHERE m.bookmark_id = t.id)",
    ],
    "bookmark_categories": [
        "parent_id IS NOT NULL",
        "name = 'Uncategorized' AND (sort_index <> 0 OR is_public)",
        "(SELECT count(*) FROM bookmark_categories o WHERE o.user_id = t.user_id "
        "AND o.name = 'Uncategorized') <> 1",
        "is_public <> (share_token IS NOT NULL) OR color_hex !~ '^#[0-9A-F]{6}$'",
    ],
    "bookmark_category_members": [
        "NOT EXISTS (SELECT 1 FROM bookmarks b WHERE b.id = t.bookmark_id "
        "AND b.user_id = t.user_id AND b.created_at <= t.added_at)",
        "NOT EXISTS (SELECT 1 FROM bookmark_categories c WHERE c.id = t.category_id "
        "AND c.user_id = t.user_id AND c.created_at <= t.added_at)",
        "position < 0 OR position >= (SELECT count(*) FROM bookmark_category_members o "
        "WHERE o.category_id = t.category_id)",
        "(SELECT count(*) FROM bookmark_category_members o WHERE o.category_id = t.category_id "
        "AND o.position = t.position) > 1",
    ],
    "user_notifications": [
        # about that user's job, after it ended, type consistent with the job's status
        "NOT EXISTS (SELECT 1 FROM generation_jobs j WHERE j.id = t.related_job_id "
        "AND j.user_id = t.user_id AND t.created_at >= j.completed_at AND "
        "((t.notification_type = 'job_completed' AND j.status = 'completed' "
        "AND j.content_id = t.related_content_id) OR (t.notification_type = 'job_failed' "
        "AND j.status = 'failed' AND t.related_content_id IS NULL) OR "
        "(t.notification_type = 'job_cancelled' AND j.status = 'cancelled')))",
        "read_status <> (read_at IS NOT NULL) OR read_at < created_at",
        "notification_type NOT IN ('job_completed', 'job_failed', 'job_cancelled', 'system', "
        "'recommendation')",
    ],
    "generation_events": [
        # one request per job at its creation; one end event per ended job, at its end
        "event_type = 'request' AND NOT EXISTS (SELECT 1 FROM generation_jobs j "
        "WHERE j.user_id = t.user_id AND j.created_at = t.timestamp AT TIME ZONE 'UTC')",
        "event_type <> 'request' AND NOT EXISTS (SELECT 1 FROM generation_jobs j "
        "WHERE j.user_id = t.user_id AND j.completed_at = t.timestamp AT TIME ZONE 'UTC' "
        "AND j.status = CASE WHEN event_type = 'cancellation' THEN 'cancelled' "
        "WHEN success THEN 'completed' ELSE 'failed' END)",
        "(success IS NOT NULL) <> (event_type = 'completion') "
        "OR (duration_ms IS NOT NULL) <> (event_type = 'completion')",
        "(error_type IS NOT NULL) <> (success IS FALSE)",
        "event_type NOT IN ('request', 'completion', 'cancellation') "
        "OR generation_type NOT IN ('standard', 'comfyui')",
        "user_id IS NULL OR NOT EXISTS (SELECT 1 FROM users u WHERE u.id = t.user_id)",
    ],
    "route_analytics": [
        "(error_type IS NULL) <> (status_code < 400) OR (error_type = 'client_error') "
        "<> (status_code BETWEEN 400 AND 499)",
        "jsonb_typeof(query_params) <> 'object' OR query_params_normalized ?| "
        "array['page', 'offset', 'limit', 'cursor']",
        "query_params - 'page' - 'offset' - 'limit' - 'cursor' <> query_params_normalized",
    ],
    "models_checkpoints": [
        "(model_metadata->>'path_resolves')::boolean IS NOT TRUE OR jsonb_typeof(tags) <> 'array'",
    ],
    "models_loras": [
        "(model_metadata->>'path_resolves')::boolean IS NOT TRUE OR jsonb_typeof(tags) <> 'array' "
        "OR jsonb_typeof(trigger_words) <> 'array' OR EXISTS (SELECT 1 FROM "
        "jsonb_array_elements_text(optimal_checkpoints) c WHERE c NOT IN "
        "(SELECT name FROM models_checkpoints))",
    ],
    "available_models": [
        "NOT is_active OR type NOT IN ('checkpoint', 'lora') OR name NOT IN "
        "(SELECT name FROM models_checkpoints UNION ALL SELECT name FROM models_loras)",
    ],
}


@pytest.mark.parametrize(("table", "rule"), [(t, r) for t, rules in RULES.items() for r in rules])
def test_consistency_rules(db: psycopg.Connection, table: str, rule: str) -> None:
    assert violations(db, table, rule) == 0


GEN_HOURLY = """
SELECT date_trunc('hour', timestamp) AS timestamp,
  count(*) FILTER (WHERE event_type = 'request')::int,
  count(*) FILTER (WHERE event_type = 'completion' AND success)::int,
  count(*) FILTER (WHERE event_type = 'completion' AND NOT success)::int,
  count(*) FILTER (WHERE event_type = 'cancellation')::int,
  (avg(duration_ms) FILTER (WHERE event_type = 'completion'))::int,
  (percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)
    FILTER (WHERE event_type = 'completion'))::int,
  (percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)
    FILTER (WHERE event_type = 'completion'))::int,
  (percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_ms)
    FILTER (WHERE event_type = 'completion'))::int,
  count(DISTINCT user_id)::int,
  coalesce(sum(coalesce(batch_size, 1)) FILTER (WHERE event_type = 'completion' AND success),
    0)::int
FROM generation_events GROUP BY 1
"""
GEN_OURS = """
SELECT timestamp, total_requests, successful_generations, failed_generations,
  cancelled_generations, avg_duration_ms, p50_duration_ms, p95_duration_ms, p99_duration_ms,
  unique_users, total_images_generated FROM generation_metrics_hourly
"""
ROUTE_HOURLY = """
SELECT date_trunc('hour', timestamp), route, method, query_params_normalized,
  count(*)::int, count(*) FILTER (WHERE status_code BETWEEN 200 AND 299)::int,
  count(*) FILTER (WHERE status_code BETWEEN 400 AND 499)::int,
  count(*) FILTER (WHERE status_code >= 500)::int, avg(duration_ms)::int,
  (percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms))::int,
  (percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms))::int,
  (percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_ms))::int,
  count(DISTINCT user_id)::int, avg(request_size_bytes)::int, avg(response_size_bytes)::int
FROM route_analytics GROUP BY 1, 2, 3, 4
"""
ROUTE_OURS = """
SELECT timestamp, route, method, query_params_normalized, total_requests, successful_requests,
  client_errors, server_errors, avg_duration_ms, p50_duration_ms, p95_duration_ms,
  p99_duration_ms, unique_users, avg_request_size_bytes, avg_response_size_bytes
FROM route_analytics_hourly
"""


@pytest.mark.parametrize(("app", "ours"), [(GEN_HOURLY, GEN_OURS), (ROUTE_HOURLY, ROUTE_OURS)])
def test_hourly_tables_equal_the_apps_aggregation(
    db: psycopg.Connection, app: str, ours: str
) -> None:
    db.execute("SET TimeZone = 'UTC'")
    assert one(db, f"SELECT count(*) FROM ({app}) a") == one(db, f"SELECT count(*) FROM ({ours}) o")
    for a, b in ((app, ours), (ours, app)):
        assert one(db, f"SELECT count(*) FROM (({a}) EXCEPT ({b})) d") == 0, a


def test_jobs_name_catalogue_models(db: psycopg.Connection) -> None:
    assert (
        one(
            db,
            "SELECT count(*) FROM generation_jobs j WHERE checkpoint_model NOT IN "
            "(SELECT name FROM models_checkpoints) OR EXISTS (SELECT 1 FROM "
            "jsonb_array_elements(lora_models) l WHERE l->>'name' NOT IN "
            "(SELECT name FROM models_loras))",
        )
        == 0
    )


def test_notifications_go_to_a_share_of_users_for_every_terminal_job(
    db: psycopg.Connection,
) -> None:
    notified = "SELECT DISTINCT user_id FROM user_notifications"
    missing = one(
        db,
        "SELECT count(*) FROM generation_jobs j WHERE j.user_id IN (" + notified + ") "
        "AND (j.content_id IS NOT NULL OR j.status IN ('failed', 'cancelled')) "
        "AND NOT EXISTS (SELECT 1 FROM user_notifications n WHERE n.related_job_id = j.id)",
    )
    assert missing == 0
    types = {r[0] for r in db.execute("SELECT DISTINCT notification_type FROM user_notifications")}
    assert {"job_completed", "job_failed"} <= types


def test_activity_spreads_over_users_and_repeats_searches(db: psycopg.Connection) -> None:
    users = SMALL["target_rows_users"]
    assert one(db, "SELECT count(DISTINCT user_id) FROM user_interactions") > users / 2
    assert one(db, "SELECT count(DISTINCT algorithm_version) FROM recommendations") == 3
    assert one(db, "SELECT count(*) FILTER (WHERE is_served) FROM recommendations") > 0
    repeats = one(
        db,
        "SELECT count(*) FROM (SELECT search_query FROM user_search_history "
        "GROUP BY 1 HAVING count(*) > 1) r",
    )
    assert repeats > 0


# ---------------------------------------------------------------------------- pure functions


@given(
    n=st.integers(1, 3000),
    users=st.lists(st.integers(0, 500), min_size=1, max_size=30, unique=True),
    mean=st.floats(0, 50),
    seed=st.integers(0, 2**32),
)
@settings(max_examples=40, deadline=None)
def test_a_users_items_are_distinct_and_shard_independent(
    n: int, users: list[int], mean: float, seed: int
) -> None:
    ds = _dataset(seed=seed, target_rows_users=501)
    per_user = np.minimum(activity.counts(ds, "t", mean, n), n)
    idx = np.asarray(sorted(users), dtype=np.int64)
    user, j, key = activity.explode(per_user, idx)
    item = activity.distinct(ds, "t", user, j, n)
    assert ((item >= 0) & (item < n)).all()
    pairs = set(zip(user.tolist(), item.tolist(), strict=True))
    assert len(pairs) == len(user)  # no user meets an item twice
    assert len(set(key.tolist())) == len(key)  # activity keys (ids) are unique
    halves = [activity.explode(per_user, part) for part in (idx[::2], idx[1::2])]
    assert sorted(np.concatenate([h[2] for h in halves]).tolist()) == sorted(key.tolist())


@pytest.mark.parametrize("table", APP_TABLES)
def test_rows_do_not_depend_on_the_shard(table: str) -> None:
    ds = _dataset(route_analytics_rows=500)
    gen = next(g for g in ds.tables() if g.name == table)
    whole = ds.build(table, 0, gen.rows)
    cut = max(1, gen.rows // 3)
    parts = [ds.build(table, 0, cut), ds.build(table, cut, gen.rows)] if gen.rows > 1 else [whole]
    for column, values in whole.items():
        joined = pa.concat_arrays([p[column] for p in parts])
        assert joined.equals(values), (table, column)


def _dataset(**overrides: object) -> GenonautDataset:
    settings = GenonautSettings(**{**SMALL, **overrides})
    return GenonautDataset(settings, {"admin_uuid": ADMIN})
