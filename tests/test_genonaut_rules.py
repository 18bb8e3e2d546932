"""The default genonaut set, loaded into the real 206-index schema: every §d rule, by SQL.

One module-scoped load of the default config (500 users, 20k items, 100k auto items); each
test then checks one group of rules. What is exact by construction (row counts, admin rows, job
statuses: quotas) is checked exactly; only shares drawn independently per row (active users,
private items) get a tolerance, derived from the sample size for a one-in-a-million false alarm.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from psycopg import sql

from generator.datasets.genonaut.settings import DEFAULT_STATUS_WEIGHTS, DEFAULT_STATUS_WORDS
from generator.datasets.genonaut.tagtree import TAG_TREE
from generator.datasets.genonaut.vocabulary import VOCABULARY
from generator.engine import Request, generate
from loader.load import load_set
from tests.conftest import ADMIN, scratch_database
from tests.exact import share_tolerance, status_counts

pytestmark = pytest.mark.slow

W_LO, W_HI = "2025-05-01 04:00:00", "2025-09-22 03:59:59"  # 2025-05-01..09-21 ET, as UTC
UUID4 = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
TABLES = ["users", "tags", "content_items", "content_items_auto", "generation_jobs", "content_tags"]
CONTENT = ["content_items", "content_items_auto"]


def _catalog_text(url: str) -> dict[str, set[str]]:
    with psycopg.connect(url) as conn:
        return {
            "indexes": {
                r[0]
                for r in conn.execute(
                    "SELECT pg_get_indexdef(indexrelid) FROM pg_index i JOIN pg_class c "
                    "ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = 'public'"
                )
            },
            "constraints": {
                f"{r[0]} {r[1]}"
                for r in conn.execute(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE connamespace = 'public'::regnamespace"
                )
            },
        }


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, server: str) -> Iterator[dict]:
    with scratch_database(server) as url:
        before = _catalog_text(url)
        out = tmp_path_factory.mktemp("default") / "set"
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("DB_USER_ADMIN_UUID", ADMIN)
            manifest = generate(
                Request("genonaut", None, {}, Path("env/.env-absent")), out, echo=lambda _m: None
            )
        report = load_set(out, url, echo=lambda _m: None)
        with psycopg.connect(url) as conn:
            conn.execute("SET search_path = public")
            yield {
                "url": url,
                "set_dir": out,
                "conn": conn,
                "before": before,
                "manifest": manifest,
                "report": report,
            }


def q(loaded: dict, query: str, params: tuple = ()) -> list[tuple]:
    return loaded["conn"].execute(query, params).fetchall()


def one(loaded: dict, query: str, params: tuple = ()) -> object:
    return q(loaded, query, params)[0][0]


def assert_share(hits: int, n: int, p: float) -> None:
    """For shares that are really random (independent draws): a one-in-a-million interval."""
    tolerance = share_tolerance(n, p)
    assert abs(hits / n - p) <= tolerance, f"share {hits}/{n} = {hits / n:.4f}, expected {p}"


# ---------------------------------------------------------------------------- the load itself


def test_row_counts_match_manifest(loaded: dict) -> None:
    # exact by construction (content_tags: the sum of the items' random tag counts)
    exact = {
        "users": 500,
        "tags": 127,  # the app's hierarchy: 101 pool tags + 26 categories
        "tag_parents": 129,
        "content_items": 20_000,
        "content_items_auto": 100_000,
        "generation_jobs": 120_000 + 2449,
    }
    for table in loaded["manifest"].tables:
        count = one(loaded, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table.name)))
        assert count == table.rows == exact.get(table.name, count) > 0, table.name


def test_content_tags_shards_come_in_primary_key_order(loaded: dict) -> None:
    """So the key and ``idx_content_tags_content`` sort presorted runs after a load (a uuid
    sorts by its bytes, which is the order of its lower-case text)."""
    keys = [(c, "ascending") for c in ("content_id", "content_source", "tag_id")]
    shards = loaded["manifest"].table("content_tags").shards
    for shard in shards:
        rows = pq.read_table(loaded["set_dir"] / shard.file)
        assert rows.num_rows > 0
        order = pc.sort_indices(rows, sort_keys=keys).to_numpy()
        assert (order == np.arange(rows.num_rows)).all(), shard.file
    assert len(shards) > 1


def test_all_206_indexes_and_every_constraint_are_back(loaded: dict) -> None:
    after = _catalog_text(loaded["url"])
    assert len(after["indexes"]) == 206
    assert after == loaded["before"]
    assert loaded["report"].snapshot.indexes, "the load dropped and rebuilt indexes"


def test_sequences_are_past_the_loaded_keys(loaded: dict) -> None:
    assert one(
        loaded, "SELECT nextval('content_items_id_seq') > (SELECT max(id) FROM content_items_all)"
    )
    assert one(
        loaded,
        "SELECT nextval(pg_get_serial_sequence('generation_jobs', 'id')) > "
        "(SELECT max(id) FROM generation_jobs)",
    )


def test_no_orphans(loaded: dict) -> None:
    checks = [
        "SELECT count(*) FROM content_items c LEFT JOIN users u ON u.id = c.creator_id "
        "WHERE u.id IS NULL",
        "SELECT count(*) FROM content_items_auto c LEFT JOIN users u ON u.id = c.creator_id "
        "WHERE u.id IS NULL",
        "SELECT count(*) FROM generation_jobs j LEFT JOIN users u ON u.id = j.user_id "
        "WHERE u.id IS NULL",
        "SELECT count(*) FROM generation_jobs j LEFT JOIN content_items c ON c.id = j.content_id "
        "WHERE j.content_id IS NOT NULL AND c.id IS NULL",
        "SELECT count(*) FROM content_tags ct LEFT JOIN tags t ON t.id = ct.tag_id "
        "WHERE t.id IS NULL",
        "SELECT count(*) FROM content_tags ct WHERE NOT EXISTS (SELECT 1 FROM content_items_all c "
        "WHERE c.id = ct.content_id AND c.source_type = "
        "CASE ct.content_source WHEN 'regular' THEN 'items' ELSE 'auto' END)",
    ]
    for check in checks:
        assert one(loaded, check) == 0, check


# ---------------------------------------------------------------------------- users (1-7)


def test_users_ids_admin_uniqueness(loaded: dict) -> None:
    assert one(loaded, "SELECT count(*) FROM users WHERE id::text !~ %s", (UUID4,)) == 0
    assert one(loaded, "SELECT count(*) FROM users WHERE id = %s", (ADMIN,)) == 1
    n, names, emails = q(
        loaded, "SELECT count(*), count(DISTINCT username), count(DISTINCT email) FROM users"
    )[0]
    assert n == names == emails == 500


def test_users_times_and_active_share(loaded: dict) -> None:
    bad = one(
        loaded,
        "SELECT count(*) FROM users WHERE created_at NOT BETWEEN %s AND %s "
        "OR updated_at NOT BETWEEN %s AND %s OR updated_at < created_at",
        (W_LO, W_HI, W_LO, W_HI),
    )
    assert bad == 0
    assert_share(one(loaded, "SELECT count(*) FILTER (WHERE is_active) FROM users"), 500, 0.99)


def test_users_preferences_and_favorite_tag_ids(loaded: dict) -> None:
    pool = set(TAG_TREE.leaves)  # the pool's names, spelled as the app's slugs
    rows = q(loaded, "SELECT preferences, favorite_tag_ids FROM users")
    id_to_name = dict(q(loaded, "SELECT id::text, name FROM tags"))
    sizes = set()
    for prefs, ids in rows:
        assert set(prefs) == {"favorite_tags"}
        names = prefs["favorite_tags"]
        sizes.add(len(names))
        assert 0 <= len(names) <= 10 and len(set(names)) == len(names) and set(names) <= pool
        assert [id_to_name[i] for i in ids] == names
    assert sizes == set(range(11)), "0..10 favorite tags all occur"


# ---------------------------------------------------------------------------- content (8-16)


@pytest.mark.parametrize("table", CONTENT)
def test_content_fields(loaded: dict, table: str) -> None:
    t = sql.Identifier(table)
    bad = {
        "content_type": "content_type <> 'image'",
        "title": "title <> left(prompt, 20)",
        "content_data": "content_data !~ %(png)s",
        "metadata keys": "(SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(item_metadata) k)"
        " <> ARRAY['resolution', 'style', 'tags']",
        "style": "item_metadata->>'style' NOT IN ('anime', 'illustration', 'photorealistic')",
        "resolution": "item_metadata->>'resolution' !~ '^[0-9]+x[0-9]+$'",
        "tag count": "jsonb_array_length(item_metadata->'tags') NOT BETWEEN 0 AND 101",
        "quality": "quality_score NOT BETWEEN 0 AND 1 OR round(quality_score::numeric, 2) "
        "<> quality_score::numeric",
        "times": "updated_at < created_at OR created_at NOT BETWEEN %(lo)s AND %(hi)s "
        "OR updated_at > %(hi)s",
        "prompt": "prompt = '' OR prompt IS NULL",
    }
    for rule, predicate in bad.items():
        query = sql.SQL("SELECT count(*) FROM {} WHERE " + predicate).format(t)
        png = "^data/images/" + UUID4[1:-1] + r"\.png$"
        assert one(loaded, query, {"lo": W_LO, "hi": W_HI, "png": png}) == 0, rule
    dup_tags = sql.SQL(
        "SELECT count(*) FROM {} c WHERE (SELECT count(DISTINCT x) FROM "
        "jsonb_array_elements_text(c.item_metadata->'tags') x) <> "
        "jsonb_array_length(c.item_metadata->'tags')"
    ).format(t)
    assert one(loaded, dup_tags) == 0
    outside = sql.SQL(
        "SELECT count(*) FROM {} c, jsonb_array_elements_text(c.item_metadata->'tags')"
        " x WHERE x <> ALL(%s)"
    ).format(t)
    assert one(loaded, outside, (list(TAG_TREE.leaves),)) == 0


@pytest.mark.parametrize("table", CONTENT)
def test_content_admin_private_source(loaded: dict, table: str) -> None:
    t = sql.Identifier(table)
    n = one(loaded, sql.SQL("SELECT count(*) FROM {}").format(t))
    assert (
        one(loaded, sql.SQL("SELECT count(*) FROM {} WHERE creator_id = %s").format(t), (ADMIN,))
        == 50
    )
    private = one(loaded, sql.SQL("SELECT count(*) FILTER (WHERE is_private) FROM {}").format(t))
    assert_share(private, n, 0.10)
    source = "items" if table == "content_items" else "auto"
    assert (
        one(loaded, sql.SQL("SELECT count(*) FROM {} WHERE source_type <> %s").format(t), (source,))
        == 0
    )
    assert one(loaded, sql.SQL("SELECT count(DISTINCT creator_id) FROM {}").format(t)) > 400


def test_content_ids_disjoint(loaded: dict) -> None:
    assert (
        one(loaded, "SELECT count(*) FROM content_items a JOIN content_items_auto b USING (id)")
        == 0
    )


# ---------------------------------------------------------------------------- jobs (17-21)


def test_every_item_has_exactly_one_completed_job(loaded: dict) -> None:
    for table, link in (
        ("content_items", "j.content_id = c.id"),
        ("content_items_auto", "j.content_id IS NULL"),
    ):
        query = sql.SQL(
            "SELECT count(*) FROM (SELECT c.id, count(j.id) AS n FROM {} c "
            "LEFT JOIN generation_jobs j ON " + link + " AND j.status = 'completed' "
            "AND j.user_id = c.creator_id AND j.prompt = c.prompt "
            "AND j.completed_at = c.created_at GROUP BY c.id) per_item WHERE n <> 1"
        ).format(sql.Identifier(table))
        assert one(loaded, query) == 0, table
    assert one(loaded, "SELECT count(*) FROM generation_jobs WHERE status = 'completed'") == one(
        loaded, "SELECT count(*) FROM content_items_all"
    )


def test_status_mix(loaded: dict) -> None:
    """Exact by construction: one completed job per item, and the never-completed jobs, 2/98 of
    that, split 0.9 : 0.1 : 1.0 by largest remainder (1102.05, 122.45, 1224.5)."""
    counts = dict(q(loaded, "SELECT status, count(*) FROM generation_jobs GROUP BY status"))
    # the spec's shares under the app's words (canceled -> cancelled, error -> failed)
    spec = status_counts(120_000, DEFAULT_STATUS_WEIGHTS)
    assert counts == {DEFAULT_STATUS_WORDS.get(k, k): v for k, v in spec.items()}
    assert counts == {"completed": 120_000, "pending": 1102, "cancelled": 122, "failed": 1225}
    assert (
        one(
            loaded,
            "SELECT count(*) FROM generation_jobs WHERE status <> 'completed' "
            "AND content_id IS NOT NULL",
        )
        == 0
    )


def test_job_fields(loaded: dict) -> None:
    bad = {
        "params": "jsonb_typeof(params) IS DISTINCT FROM 'object' OR error_message IS NOT NULL",
        "started_at": "started_at IS NOT NULL",
        "created<=completed": "completed_at < created_at",
        "completed in W": "completed_at NOT BETWEEN %(lo)s AND %(hi)s",
        "created in W": "created_at NOT BETWEEN %(lo)s AND %(hi)s",
        "pending": "status = 'pending' AND completed_at IS NOT NULL",
        "not pending": "status <> 'pending' AND completed_at IS NULL",
        "updated": "updated_at < created_at",
        "job_type": "job_type <> 'image_generation'",
    }
    for rule, predicate in bad.items():
        assert (
            one(
                loaded,
                "SELECT count(*) FROM generation_jobs WHERE " + predicate,
                {"lo": W_LO, "hi": W_HI},
            )
            == 0
        ), rule
    assert (
        one(
            loaded, "SELECT count(DISTINCT prompt) FROM generation_jobs WHERE status <> 'completed'"
        )
        > 2000
    )


# ---------------------------------------------------------------------------- prompts, tags


def test_prompts_follow_the_phrase_rules(loaded: dict) -> None:
    general = set(VOCABULARY.general)
    domains = {name: set(p) for name, p in VOCABULARY.domains.items()}
    seen_domains = set()
    for (prompt,) in q(loaded, "SELECT prompt FROM generation_jobs"):
        phrases = prompt.split(", ")
        assert len(set(phrases)) == len(phrases), prompt
        fits = [
            d
            for d, words in domains.items()
            if 4 <= len(set(phrases) & words) <= 30
            and set(phrases) - words <= general
            and len(set(phrases) - words) <= 10
        ]
        assert fits, prompt
        seen_domains.update(fits)
    assert seen_domains == set(domains)


def test_tags_and_links_match_metadata_both_ways(loaded: dict) -> None:
    assert one(loaded, "SELECT count(*) FROM tags") == 127  # 101 pool tags + 26 categories
    assert {r[0] for r in q(loaded, "SELECT name FROM tags")} == set(TAG_TREE.slugs)
    for table, source in (("content_items", "regular"), ("content_items_auto", "auto")):
        expanded = sql.SQL(
            "SELECT c.id, t.id FROM {} c, jsonb_array_elements_text(c.item_metadata->'tags') x "
            "JOIN tags t ON t.name = x"
        ).format(sql.Identifier(table))
        linked = sql.SQL("SELECT content_id, tag_id FROM content_tags WHERE content_source = %s")
        assert (
            one(loaded, "SELECT count(*) FROM content_tags WHERE content_source = %s", (source,))
            > 1000
        )
        for a, b in ((expanded, linked), (linked, expanded)):
            diff = sql.SQL("SELECT count(*) FROM (({}) EXCEPT ({})) d").format(a, b)
            assert one(loaded, diff, (source,)) == 0
    assert one(loaded, "SELECT count(DISTINCT content_source) FROM content_tags") == 2
