"""`seedgen reset` removes exactly a set's rows; `load --force` replaces a loaded set."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from loader.check import verify_database
from loader.load import LoadOptions, load_set
from loader.reset import reset_set
from seedgen.errors import SafetyError, SchemaMismatchError
from seedgen.manifest import read_manifest
from tests.conftest import GENONAUT_TABLES, fetch, make_set, scalar, seedgen
from tests.test_load_failures import quiet, state


def counts(url: str) -> dict[str, int]:
    return {t: int(scalar(url, f"SELECT count(*) FROM public.{t}")) for t in GENONAUT_TABLES}


def test_reset_needs_confirm_and_a_recorded_set(small_set: Path, make_db) -> None:
    url = make_db()
    with pytest.raises(SafetyError, match="--confirm"):
        reset_set(small_set, url, echo=quiet)
    with pytest.raises(SchemaMismatchError, match="not loaded") as refused:
        reset_set(small_set, url, confirm=True, echo=quiet)
    assert f"seedgen load {small_set} --database-url URL" in str(refused.value.hint)
    result = seedgen("reset", str(small_set), "--database-url", url)
    assert result.returncode == 4 and "--confirm" in result.stderr


#: The set's tables no other table of it references (app_tables: the activity, analytics and
#: catalogue tables; the stats tables), in name order.
FACTS = [
    "available_models",
    "bookmark_category_members",
    "content_tags",
    "gen_source_stats",
    "generation_events",
    "generation_metrics_hourly",
    "models_checkpoints",
    "models_loras",
    "recommendations",
    "route_analytics",
    "route_analytics_hourly",
    "tag_cardinality_stats",
    "tag_parents",
    "tag_ratings",
    "user_interactions",
    "user_notifications",
    "user_search_history",
]


def test_dry_run_scopes_and_full_reset(small_set: Path, make_db) -> None:
    url = make_db()
    catalog_before = state(url)[0]
    load_set(small_set, url, echo=quiet)
    manifest = read_manifest(small_set)
    loaded = counts(url)
    assert loaded == {t.name: t.rows for t in manifest.tables}

    would = reset_set(small_set, url, dry_run=True, echo=quiet)
    assert would == loaded and counts(url) == loaded

    facts = reset_set(small_set, url, confirm=True, scope="facts", echo=quiet)
    # content_items_auto is a dimension: content_tags references it (a declared reference);
    # generation_jobs too: user_notifications references it
    assert set(facts) == set(FACTS)
    after_facts = counts(url)
    assert after_facts["users"] == 60 and after_facts["content_items"] == 400
    assert after_facts["content_tags"] == after_facts["user_notifications"] == 0
    assert after_facts["generation_jobs"] == loaded["generation_jobs"]
    assert after_facts["content_items_auto"] == 900

    dimensions = reset_set(small_set, url, confirm=True, scope="dimensions", echo=quiet)
    assert set(dimensions) == {
        "users",
        "tags",
        "content_items",
        "content_items_auto",
        "generation_jobs",
        "bookmarks",
        "bookmark_categories",
    }
    assert state(url) == (catalog_before, 0)
    assert scalar(url, "SELECT status FROM seedgen.loads") == "reset"  # the last scope: all gone
    load_set(small_set, url, echo=quiet)  # a reset set can be loaded again
    assert counts(url) == loaded


def test_reset_leaves_other_rows_alone(small_set: Path, make_db) -> None:
    url = make_db()
    load_set(small_set, url, echo=quiet)
    with __import__("psycopg").connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO public.tags (id, name, tag_metadata, created_at, updated_at) "
            "VALUES (gen_random_uuid(), 'hand-made', '{}', now(), now())"
        )
    reset_set(small_set, url, confirm=True, echo=quiet)
    assert fetch(url, "SELECT name FROM public.tags") == [("hand-made",)]


def test_force_replaces_a_loaded_set(small_set: Path, make_db) -> None:
    url = make_db()
    load_set(small_set, url, echo=quiet)
    with pytest.raises(SchemaMismatchError, match="--force"):
        load_set(small_set, url, echo=quiet)
    lines: list[str] = []
    load_set(small_set, url, LoadOptions(force=True), echo=lines.append)
    assert any("--force: removing" in line for line in lines)
    assert counts(url)["content_tags"] == read_manifest(small_set).table("content_tags").rows
    statuses = [r[0] for r in fetch(url, "SELECT status FROM seedgen.loads ORDER BY id")]
    assert statuses == ["reset", "complete"]


def test_a_csv_set_loads_verifies_and_resets(tmp_path: Path, make_db) -> None:
    csv_set = make_set(tmp_path / "csv", format="csv")
    url = make_db()
    load_set(csv_set, url, echo=quiet)
    assert counts(url) == {t.name: t.rows for t in read_manifest(csv_set).tables}
    assert verify_database(csv_set, url, echo=quiet).problems == []
    deleted = reset_set(csv_set, url, confirm=True, echo=quiet)
    assert sum(deleted.values()) == read_manifest(csv_set).total_rows
    assert set(counts(url).values()) == {0}


# ------------------------------------------------------------- scoped resets (issue 7, 5 and 8)


def test_dimensions_before_facts_is_refused_up_front(small_set: Path, make_db) -> None:
    url = make_db()
    load_set(small_set, url, echo=quiet)
    loaded = counts(url)
    result = seedgen(
        "reset", str(small_set), "--database-url", url, "--confirm", "--scope", "dimensions"
    )
    assert result.returncode == 5, result.stderr
    assert "Traceback" not in result.stderr and "deleted" not in result.stderr
    assert "generation_events still holds this set's rows" in result.stderr  # the first fact
    hint = f"seedgen reset {small_set} --database-url URL --scope facts --confirm"
    assert hint in result.stderr
    assert counts(url) == loaded
    assert "reset_tables" not in str(fetch(url, "SELECT relname FROM pg_class"))  # no write
    reset_set(small_set, url, confirm=True, scope="facts", echo=quiet)  # the hint works


def test_two_scoped_resets_free_the_set_for_a_reload(small_set: Path, make_db) -> None:
    url = make_db()
    load_set(small_set, url, echo=quiet)
    loaded = counts(url)
    lines: list[str] = []
    reset_set(small_set, url, confirm=True, scope="facts", echo=lines.append)
    assert scalar(url, "SELECT status FROM seedgen.loads") == "partially_reset"
    assert sorted(r[0] for r in fetch(url, "SELECT table_name FROM seedgen.reset_tables")) == FACTS
    assert any("partially reset" in line and "content_items_auto" in line for line in lines)
    with pytest.raises(SchemaMismatchError, match="partially_reset") as refused:
        load_set(small_set, url, echo=quiet)
    assert "--force" in str(refused.value.hint)
    reset_set(small_set, url, confirm=True, scope="dimensions", echo=quiet)
    assert set(counts(url).values()) == {0}
    assert scalar(url, "SELECT status FROM seedgen.loads") == "reset"
    load_set(small_set, url, echo=quiet)
    assert counts(url) == loaded


def test_force_or_a_full_reset_after_a_facts_reset(small_set: Path, make_db) -> None:
    url = make_db()
    load_set(small_set, url, echo=quiet)
    loaded = counts(url)
    reset_set(small_set, url, confirm=True, scope="facts", echo=quiet)
    load_set(small_set, url, LoadOptions(force=True), echo=quiet)
    assert counts(url) == loaded
    statuses = [r[0] for r in fetch(url, "SELECT status FROM seedgen.loads ORDER BY id")]
    assert statuses == ["reset", "complete"]
    reset_set(small_set, url, confirm=True, scope="facts", echo=quiet)
    reset_set(small_set, url, confirm=True, echo=quiet)  # the rest, in one go
    assert set(counts(url).values()) == {0}
    assert scalar(url, "SELECT status FROM seedgen.loads ORDER BY id DESC LIMIT 1") == "reset"


APP_STATS = (
    "INSERT INTO public.gen_source_stats (id, user_id, source_type, count, updated_at) "
    "SELECT 900000, id, 'items', 7, now() FROM public.users ORDER BY id OFFSET 5 LIMIT 1"
)  # the set fills gen_source_stats too (ids 1-4 and 5..): the app's own row is id 900000
APP_ROW = "SELECT count(*) FROM public.gen_source_stats WHERE id = 900000"


def test_app_rows_referencing_the_set_refuse_the_reset(small_set: Path, make_db) -> None:
    """gen_source_stats.user_id is ON DELETE CASCADE: a reset would silently delete the app's
    row. It is refused instead, naming the table, before anything is deleted."""
    url = make_db()
    load_set(small_set, url, echo=quiet)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(APP_STATS)
    loaded = counts(url)  # gen_source_stats: the set's rows and the app's
    for scope in ("all", "dimensions"):
        if scope == "dimensions":
            reset_set(small_set, url, confirm=True, scope="facts", echo=quiet)
            loaded = counts(url)
        with pytest.raises(SchemaMismatchError, match="public.gen_source_stats") as refused:
            reset_set(small_set, url, confirm=True, scope=scope, echo=quiet)  # type: ignore[arg-type]
        assert "user_id" in refused.value.message and "seedgen reset" in str(refused.value.hint)
        assert counts(url) == loaded
        assert scalar(url, APP_ROW) == 1
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM public.gen_source_stats WHERE id = 900000")
    reset_set(small_set, url, confirm=True, echo=quiet)  # what the hint says, then it works
    assert set(counts(url).values()) == {0}


def test_a_database_error_is_rolled_back_and_reported(small_set: Path, make_db) -> None:
    url = make_db()
    load_set(small_set, url, echo=quiet)
    loaded = counts(url)
    impatient = url + ("&" if "?" in url else "?") + "options=-c%20lock_timeout%3D300"
    with psycopg.connect(url) as holder:
        holder.execute("LOCK TABLE public.users IN SHARE MODE")  # blocks DELETE and TRUNCATE
        result = seedgen("reset", str(small_set), "--database-url", impatient, "--confirm")
    assert result.returncode == 6, result.stderr
    assert "Traceback" not in result.stderr
    assert "rolled back, nothing was deleted" in result.stderr and "hint:" in result.stderr
    assert " deleted " not in result.stderr.replace("nothing was deleted", "")
    assert counts(url) == loaded
    assert scalar(url, "SELECT status FROM seedgen.loads") == "complete"


def test_a_set_not_loaded_says_what_is(tmp_path: Path, small_set: Path, make_db) -> None:
    url = make_db()
    load_set(small_set, url, echo=quiet)
    other = make_set(tmp_path / "other", seed=7)
    with pytest.raises(SchemaMismatchError, match="loaded there: load 1: genonaut seed 42") as e:
        reset_set(other, url, confirm=True, echo=quiet)
    assert f"seedgen reset {small_set} --database-url URL --confirm" in str(e.value.hint)
    make_set(small_set, seed=7)  # the directory the load came from now holds another set
    with pytest.raises(SchemaMismatchError, match="loaded there") as e:
        reset_set(small_set, url, confirm=True, echo=quiet)
    assert "no longer holds the set load 1 was made from" in str(e.value.hint)


# ------------------------------------------------------------------ TRUNCATE when it may


def relfilenodes(url: str) -> dict[str, int]:
    return {
        name: int(node)
        for name, node in fetch(
            url,
            "SELECT relname, relfilenode FROM pg_class WHERE relname = ANY(%s)",
            (list(GENONAUT_TABLES),),
        )
    }


def test_a_set_owning_its_tables_is_truncated(small_set: Path, make_db) -> None:
    url = make_db()
    load_set(small_set, url, echo=quiet)
    before = relfilenodes(url)
    lines: list[str] = []
    deleted = reset_set(small_set, url, confirm=True, echo=lines.append)
    assert deleted == {t.name: t.rows for t in read_manifest(small_set).tables}
    after = relfilenodes(url)
    assert all(after[t] != before[t] for t in GENONAUT_TABLES), (before, after)
    assert sum("(truncated" in line for line in lines) == len(GENONAUT_TABLES)
    how = {r[0] for r in fetch(url, "SELECT how FROM seedgen.reset_tables")}
    assert how == {"truncate"} and set(counts(url).values()) == {0}


def test_the_apps_rows_are_never_truncated(small_set: Path, make_db) -> None:
    url = make_db()
    load_set(small_set, url, echo=quiet)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO public.users (id, username, email, created_at, updated_at, is_active) "
            "VALUES (gen_random_uuid(), 'app-own', 'own@app', now(), now(), true)"
        )
        conn.execute(APP_STATS.replace("ORDER BY id OFFSET 5", "WHERE username = 'app-own'"))
    app_rows = "SELECT ctid, xmin::text, u::text FROM public.users u"
    before, own = relfilenodes(url), fetch(url, app_rows + " WHERE username = 'app-own'")
    app_stats = "SELECT ctid, xmin::text, s::text FROM public.gen_source_stats s WHERE id = 900000"
    stats = fetch(url, app_stats)
    lines: list[str] = []
    reset_set(small_set, url, confirm=True, echo=lines.append)
    after = relfilenodes(url)
    assert after["users"] == before["users"]  # deleted by key: the app's row is there
    assert fetch(url, app_rows) == own  # byte for byte, same tuple
    assert fetch(url, app_stats) == stats
    assert not any(line.strip().startswith("users") and "truncated" in line for line in lines)
    assert after["content_tags"] != before["content_tags"]  # the set's own tables still are
