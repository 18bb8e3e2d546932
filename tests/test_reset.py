"""`seedgen reset` removes exactly a set's rows; `load --force` replaces a loaded set."""

from __future__ import annotations

from pathlib import Path

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
    with pytest.raises(SchemaMismatchError, match="no load of this set"):
        reset_set(small_set, url, confirm=True, echo=quiet)
    result = seedgen("reset", str(small_set), "--database-url", url)
    assert result.returncode == 4 and "--confirm" in result.stderr


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
    # content_items_auto is a dimension: content_tags references it (a declared reference)
    assert set(facts) == {
        "generation_jobs",
        "content_tags",
        "tag_parents",
        "tag_cardinality_stats",
        "gen_source_stats",
    }
    after_facts = counts(url)
    assert after_facts["users"] == 60 and after_facts["content_items"] == 400
    assert after_facts["generation_jobs"] == after_facts["content_tags"] == 0
    assert after_facts["content_items_auto"] == 900

    dimensions = reset_set(small_set, url, confirm=True, scope="dimensions", echo=quiet)
    assert set(dimensions) == {"users", "tags", "content_items", "content_items_auto"}
    assert set(counts(url).values()) == {0}
    assert scalar(url, "SELECT status FROM seedgen.loads") == "complete"  # not a full reset

    reset_set(small_set, url, confirm=True, echo=quiet)
    assert state(url) == (catalog_before, 0)
    assert scalar(url, "SELECT status FROM seedgen.loads") == "reset"
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
