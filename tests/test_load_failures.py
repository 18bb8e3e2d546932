"""Bad input: one clear error, nothing written. A failed load leaves the database as it was."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg
import pytest

import loader.load
import loader.load_phases
from generator.datasets.genonaut.app_tables import BUILDERS
from loader.check import verify_database
from loader.load import LoadOptions, load_set
from seedgen.errors import (
    LoadError,
    ManifestError,
    SafetyError,
    SchemaMismatchError,
)
from seedgen.manifest import MANIFEST_NAME, read_manifest
from tests.conftest import GENONAUT_TABLES, fetch, make_set, scalar

CATALOG = """
SELECT 'index ' || pg_get_indexdef(indexrelid) FROM pg_index i
  JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = 'public'::regnamespace
UNION ALL
SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
  WHERE connamespace = 'public'::regnamespace
UNION ALL
SELECT 'trigger ' || tgname || ' ' || tgenabled::text FROM pg_trigger
  WHERE NOT tgisinternal
ORDER BY 1
"""
COUNTS = "SELECT " + " + ".join(f"(SELECT count(*) FROM {t})" for t in GENONAUT_TABLES)


def state(url: str) -> tuple[list[tuple], int]:
    return fetch(url, CATALOG), int(scalar(url, COUNTS))


def quiet(*_a: object) -> None:
    return None


def _add_user_trigger(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION public.noop() RETURNS trigger LANGUAGE plpgsql "
            "AS 'BEGIN RETURN NEW; END'"
        )
        conn.execute(
            "CREATE TRIGGER content_tags_insert_sync AFTER INSERT ON public.content_tags "
            "FOR EACH ROW EXECUTE FUNCTION public.noop()"
        )
        conn.execute(
            "CREATE TRIGGER users_off BEFORE INSERT ON public.users "
            "FOR EACH ROW EXECUTE FUNCTION public.noop()"
        )
        conn.execute("ALTER TABLE public.users DISABLE TRIGGER users_off")


def test_small_load_round_trip(small_set: Path, make_db) -> None:
    url = make_db()
    _add_user_trigger(url)
    before, _ = state(url)
    report = load_set(small_set, url, echo=quiet)
    after, rows = state(url)
    assert after == before  # indexes, constraints, triggers (and their enabled state) restored
    assert rows == read_manifest(small_set).total_rows
    assert report.snapshot is not None and len(report.snapshot.triggers) == 1  # the enabled one


@pytest.mark.parametrize("name", ["genonaut", "prod", "genonaut_demo_copy", "x_testing"])
def test_database_name_guard_refuses_before_connecting(small_set: Path, name: str) -> None:
    # Port 1 has no server: reaching the guard first proves no connection was attempted.
    with pytest.raises(SafetyError, match="_demo or _test"):
        load_set(small_set, f"postgresql://u:secret@127.0.0.1:1/{name}", echo=quiet)


@pytest.mark.parametrize("host", ["db.example.com", "10.1.2.3", "[2001:db8::1]"])
def test_remote_hosts_need_allow_remote(small_set: Path, host: str) -> None:
    with pytest.raises(SafetyError, match="--allow-remote"):
        load_set(small_set, f"postgresql://u@{host}:1/x_test", echo=quiet)


@pytest.mark.parametrize("marker", ["APP_ENV", "SEEDGEN_ENV"])
def test_production_marker_is_a_hard_block(
    small_set: Path, marker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(marker, "production")
    options = LoadOptions(allow_any_name=True, allow_remote=True)
    with pytest.raises(SafetyError, match="production"):
        load_set(small_set, "postgresql://127.0.0.1:1/x_test", options, echo=quiet)


def test_a_second_concurrent_load_is_refused(small_set: Path, make_db) -> None:
    url = make_db()
    before = state(url)
    with psycopg.connect(url) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(hashtext('seedgen.load'))")
        with pytest.raises(LoadError, match="another seedgen load is running"):
            load_set(small_set, url, echo=quiet)
    assert state(url) == before


def test_bad_url_never_shows_the_password(small_set: Path) -> None:
    with pytest.raises(SafetyError) as info:
        load_set(small_set, "mysql://u:hunter2@host/x_test", echo=quiet)
    assert "hunter2" not in str(info.value) and "***" in str(info.value)


def _copy_set(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_corrupted_shard(small_set: Path, tmp_path: Path, make_db) -> None:
    broken = _copy_set(small_set, tmp_path / "corrupt")
    shard = broken / read_manifest(broken).table("content_items").shards[0].file
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    url = make_db()
    before = state(url)
    with pytest.raises(ManifestError, match=r"content_items, shard 00000.*sha256 mismatch"):
        load_set(broken, url, echo=quiet)
    assert state(url) == before


def test_truncated_and_missing_shards(small_set: Path, tmp_path: Path) -> None:
    broken = _copy_set(small_set, tmp_path / "trunc")
    spec = read_manifest(broken).table("users").shards[0]
    path = broken / spec.file
    path.write_bytes(path.read_bytes()[: spec.bytes // 2])
    with pytest.raises(ManifestError, match="truncated"):
        load_set(broken, "postgresql://127.0.0.1:1/x_test", echo=quiet)
    path.unlink()
    with pytest.raises(ManifestError, match="file missing"):
        load_set(broken, "postgresql://127.0.0.1:1/x_test", echo=quiet)


def test_manifest_from_a_newer_version(small_set: Path, tmp_path: Path) -> None:
    newer = _copy_set(small_set, tmp_path / "newer")
    raw = json.loads((newer / MANIFEST_NAME).read_text())
    raw["manifest_version"] = 99
    raw["some_future_field"] = True
    (newer / MANIFEST_NAME).write_text(json.dumps(raw))
    with pytest.raises(ManifestError, match=r"manifest_version 99 is newer .* \(1, 2, 3\)"):
        load_set(newer, "postgresql://127.0.0.1:1/x_test", echo=quiet)


def test_a_version_1_manifest_still_loads(small_set: Path, tmp_path: Path, make_db) -> None:
    old = _copy_set(small_set, tmp_path / "v1")
    raw = json.loads((old / MANIFEST_NAME).read_text())
    raw["manifest_version"] = 1
    for table in raw["tables"]:  # what version 2 added
        for key in ("shared_keys", "on_conflict", "references"):
            table.pop(key)
    (old / MANIFEST_NAME).write_text(json.dumps(raw))
    manifest = read_manifest(old)
    assert manifest.manifest_version == 1 and manifest.table("users").shared_keys == []
    url = make_db()
    load_set(old, url, echo=quiet)
    assert verify_database(old, url, echo=quiet).problems == []


def test_incomplete_set_is_not_a_set(tmp_path: Path) -> None:
    (tmp_path / "half.partial").mkdir()
    with pytest.raises(ManifestError, match="not a complete shard set"):
        load_set(tmp_path / "half", "postgresql://127.0.0.1:1/x_test", echo=quiet)


def test_shard_columns_differ_from_table(small_set: Path, make_db) -> None:
    url = make_db()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE public.tags ALTER COLUMN name TYPE varchar(100)")
    before = state(url)
    with pytest.raises(
        SchemaMismatchError,
        match="tags, column name: database type "
        r"character varying\(100\)",
    ):
        load_set(small_set, url, echo=quiet)
    assert state(url) == before


def test_missing_table_suggests_create_schema(small_set: Path, make_db) -> None:
    url = make_db(with_schema=False)
    with pytest.raises(SchemaMismatchError, match="--create-schema"):
        load_set(small_set, url, echo=quiet)


def test_non_empty_tables_are_refused(small_set: Path, tmp_path: Path, make_db) -> None:
    url = make_db()
    load_set(small_set, url, echo=quiet)
    before = state(url)
    with pytest.raises(SchemaMismatchError, match="already loaded into this database"):
        load_set(small_set, url, echo=quiet)
    other = make_set(tmp_path / "seed7", seed=7)
    with pytest.raises(SchemaMismatchError, match="already hold rows"):
        load_set(other, url, echo=quiet)
    assert state(url) == before


def test_copy_failing_midway_rolls_everything_back(small_set: Path, make_db) -> None:
    url = make_db()
    _add_user_trigger(url)
    with psycopg.connect(url, autocommit=True) as conn:  # generation_jobs is copied late
        conn.execute("ALTER TABLE public.generation_jobs ADD CONSTRAINT boom CHECK (id < 700)")
    before = state(url)
    lines: list[str] = []
    with pytest.raises(LoadError, match="rolled back"):
        load_set(small_set, url, echo=lines.append)
    assert state(url) == before
    summary = "\n".join(lines)
    assert "load FAILED after" in summary and "undoing load" in summary
    assert "every dropped object restored" in summary
    assert scalar(url, "SELECT status FROM seedgen.loads") == "rolled_back"


def test_rows_the_set_does_not_hold_fail_the_count_and_roll_back(
    small_set: Path, make_db, monkeypatch
) -> None:
    """The row count (a job of the load's graph, after every COPY) still sees what COPY alone
    cannot: here a row gone from content_tags (referenced by nothing, so no key notices)."""
    url = make_db()
    before = state(url)
    real = loader.load_phases.copy_shard

    def lossy(cur: psycopg.Cursor, table, *args: object, **kwargs: object) -> None:
        real(cur, table, *args, **kwargs)
        if table.name == "content_tags":
            cur.execute(
                "DELETE FROM public.content_tags "
                "WHERE ctid = (SELECT min(ctid) FROM public.content_tags)"
            )

    monkeypatch.setattr(loader.load_phases, "copy_shard", lossy)
    rows = read_manifest(small_set).table("content_tags").rows
    shards = len(read_manifest(small_set).table("content_tags").shards)
    with pytest.raises(LoadError, match="rolled back") as failed:
        load_set(small_set, url, echo=quiet)
    assert f"content_tags: {rows - shards} rows after COPY, manifest says {rows}" in str(
        failed.value
    )
    assert state(url) == before


def test_an_undo_after_the_triggers_are_back_fires_none_of_them(
    small_set: Path, make_db, monkeypatch
) -> None:
    """A load that fails in its last transaction (every object back, the user's triggers
    enabled again) is undone with its saved objects dropped and triggers disabled first: a
    trigger on a set table that writes elsewhere does not fire on the undo's deletes."""
    url = make_db()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.deleted_log (id uuid)")
        conn.execute(
            "CREATE FUNCTION public.log_delete() RETURNS trigger LANGUAGE plpgsql "
            "AS 'BEGIN INSERT INTO public.deleted_log VALUES (OLD.id); RETURN OLD; END'"
        )
        conn.execute(
            "CREATE TRIGGER tags_deleted AFTER DELETE ON public.tags "
            "FOR EACH ROW EXECUTE FUNCTION public.log_delete()"
        )
    before = state(url)

    def fails(*_a: object) -> None:
        raise LoadError("the final check failed on purpose")

    monkeypatch.setattr(loader.load, "require", fails)  # the load's; restore keeps its own
    with pytest.raises(LoadError, match="rolled back, the database is as it was"):
        load_set(small_set, url, echo=quiet)
    assert scalar(url, "SELECT count(*) FROM public.deleted_log") == 0
    assert state(url) == before  # the trigger enabled again, every index and key as before


def test_rebuild_failing_rolls_everything_back(small_set: Path, make_db) -> None:
    url = make_db()
    with psycopg.connect(url, autocommit=True) as conn:  # cannot be rebuilt over loaded rows
        conn.execute("CREATE UNIQUE INDEX users_one_per_activity ON public.users (is_active)")
    before = state(url)
    with pytest.raises(LoadError, match="users_one_per_activity"):
        load_set(small_set, url, echo=quiet)
    assert state(url) == before


def test_dry_run_writes_nothing(small_set: Path, make_db) -> None:
    url = make_db()
    before = state(url)
    lines: list[str] = []
    load_set(small_set, url, LoadOptions(dry_run=True), echo=lines.append)
    assert state(url) == before
    assert any(line.startswith("  would run: DROP INDEX") for line in lines)
    assert any("CREATE INDEX idx_generation_jobs_prompt_gist" in line for line in lines)


APP_TABLES = tuple(BUILDERS)  # the app tables beyond the content core (app_models)
MODEL_TABLES = (
    "users",
    "tags",
    "content_items",
    "content_items_auto",
    "content_items_all",
    "generation_jobs",
    "content_tags",
    "tag_parents",
    "tag_cardinality_stats",
    "gen_source_stats",
    *APP_TABLES,
)
SHAPE = """
SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM pg_index i
  WHERE i.indrelid::regclass::text = ANY(%(t)s)
UNION ALL SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
  WHERE conrelid::regclass::text = ANY(%(t)s)
UNION ALL SELECT concat_ws(' ', 'column', table_name, column_name, data_type,
  character_maximum_length, is_nullable, column_default, is_identity)
  FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ANY(%(t)s)
ORDER BY 1
"""


def test_create_schema_builds_what_the_migrations_build(small_set: Path, make_db) -> None:
    url = make_db(with_schema=False)
    load_set(small_set, url, LoadOptions(create_schema=True), echo=quiet)
    real = make_db(with_schema=True)
    shape = fetch(url, SHAPE, {"t": list(MODEL_TABLES)})
    assert len(shape) >= 150  # PG 18 also lists NOT NULL constraints
    assert shape == fetch(real, SHAPE, {"t": list(MODEL_TABLES)})
    assert scalar(url, "SELECT count(*) FROM content_items_all") == 1300
    assert (
        scalar(url, "SELECT pg_get_partkeydef('content_items_all'::regclass)")
        == "LIST (source_type)"
    )
    assert scalar(url, "SELECT nextval('content_items_id_seq')") == 3_001_300  # ids from 3M


def test_verify_and_ledger(small_set: Path, make_db) -> None:
    url = make_db()
    load_set(small_set, url, echo=quiet)
    lines: list[str] = []
    report = verify_database(small_set, url, echo=lines.append)
    assert report.problems == [] and report.checks > 60, lines
    assert scalar(url, "SELECT status FROM seedgen.loads") == "complete"
    with pytest.raises(SchemaMismatchError, match="already loaded into this database"):
        load_set(small_set, url, echo=quiet)
    with psycopg.connect(url, autocommit=True) as conn:  # break things verify must notice
        conn.execute("DROP INDEX public.idx_users_favorite_tags_gin")
        conn.execute(
            "ALTER TABLE public.generation_jobs DROP CONSTRAINT generation_jobs_user_id_fkey"
        )
        conn.execute(
            "UPDATE public.generation_jobs SET user_id = gen_random_uuid() "
            "WHERE id = (SELECT min(id) FROM public.generation_jobs)"
        )
        conn.execute(
            "ALTER TABLE public.generation_jobs ADD CONSTRAINT generation_jobs_user_id_fkey "
            "FOREIGN KEY (user_id) REFERENCES public.users(id) NOT VALID"
        )
        conn.execute(
            "DELETE FROM public.content_tags WHERE ctid = (SELECT min(ctid) "
            "FROM public.content_tags)"
        )
        conn.execute("SELECT setval('content_items_id_seq', 5)")
    report = verify_database(small_set, url, echo=lines.append)
    text = "\n".join(report.problems)
    assert "index missing: CREATE INDEX idx_users_favorite_tags_gin" in text
    assert "constraint generation_jobs.generation_jobs_user_id_fkey is not validated" in text
    assert "1 rows violate foreign key generation_jobs_user_id_fkey" in text
    assert "1 constraints not validated" in text
    assert "content_tags:" in text and "rows, the set has" in text
    assert "sequence public.content_items_id_seq would hand out 6" in text
    assert len(report.problems) == 7, text  # the shared sequence fails for both partitions
