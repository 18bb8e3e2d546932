"""The ways out of an interrupted or failed load lead somewhere, and never to a false "complete".

Each test here failed on the code before its fix (issue 7, items 1, 2, 4, 8 last point, 9).
"""

from __future__ import annotations

import signal
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Column, DateTime, Index, MetaData, String, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex

import loader.load
import loader.load_phases
from loader.check import verify_database
from loader.load import LoadOptions, load_set
from seedgen.errors import LoadError, SchemaMismatchError
from seedgen.manifest import manifest_checksum, read_manifest, set_identity, write_manifest
from tests.conftest import ADMIN, make_set, scalar, seedgen
from tests.test_crash_resume import CRASH_SET, _load
from tests.test_load_failures import quiet, state

PRIORITY = "idx_generation_jobs_status_created_priority"


@pytest.fixture(scope="module")
def crash_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Big enough that a kill at COPY batch 200 lands after child shards committed."""
    with pytest.MonkeyPatch.context() as env:  # module scope: before the autouse fixture
        env.setenv("DB_USER_ADMIN_UUID", ADMIN)
        return make_set(tmp_path_factory.mktemp("recovery") / "crash", **CRASH_SET)


def _killed(set_dir: Path, url: str, failpoint: str, *extra: str) -> None:
    proc = _load(set_dir, url, *extra, env={"SEEDGEN_FAILPOINT": failpoint})
    proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL, f"fail point {failpoint} never fired"
    assert scalar(url, "SELECT status FROM seedgen.loads ORDER BY id DESC LIMIT 1") == "running"


def _cli(*args: str) -> tuple[int, str]:
    done = seedgen(*args)
    return done.returncode, done.stderr


def _complete_and_verified(set_dir: Path, url: str, before: list[tuple]) -> None:
    assert state(url) == (before, read_manifest(set_dir).total_rows)
    assert scalar(url, "SELECT count(*) FROM seedgen.loads WHERE status = 'complete'") == 1
    code, err = _cli("verify", str(set_dir), "--database-url", url)
    assert code == 0, err


@pytest.mark.parametrize("order", ["repair-resume-load", "load-force-resume"])
def test_interrupted_copy_every_way_out_ends_complete(crash_set: Path, make_db, order) -> None:
    """Children committed before parents; then the printed ways out, in two orders."""
    url = make_db()
    before = state(url)[0]
    _killed(crash_set, url, "copy-batch:200")
    assert scalar(url, "SELECT count(*) FROM content_tags") > 0
    assert scalar(url, "SELECT count(*) FROM users") == 0  # children before parents
    s, db = str(crash_set), ("--database-url", url)
    if order == "repair-resume-load":
        code, err = _cli("repair", *db)
        assert code == 0, err  # failed with exit 6 on an FK before the fix
        assert state(url) == (before, 0)
        for again in (("load", s, *db, "--resume"), ("reset", s, *db, "--confirm")):
            code, err = _cli(*again)
            assert code != 0 and f"`seedgen load {s} --database-url URL`" in err, err
        code, err = _cli("load", s, *db)
    else:
        for refused in (("load", s, *db), ("load", s, *db, "--force"), ("reset", s, *db)):
            code, err = _cli(*refused, *(["--confirm"] if refused[0] == "reset" else []))
            assert code != 0 and "--resume`" in err and "`seedgen repair" in err, err
        code, err = _cli("load", s, *db, "--resume")
    assert code == 0, err
    _complete_and_verified(crash_set, url, before)


def test_repair_of_an_append_killed_while_staging(tmp_path: Path, make_db) -> None:
    a, b = make_set(tmp_path / "a"), make_set(tmp_path / "b", seed=43, key_offset=100_000)
    url = make_db()
    load_set(a, url, echo=quiet)
    before = state(url)
    _killed(b, url, "copy-batch:2", "--append")
    code, err = _cli("repair", "--database-url", url)
    assert code == 0 and "the 0 table(s) (0 rows) it had merged remain" in err, err
    assert state(url) == before
    assert scalar(url, "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'stage%%'") == 0
    assert verify_database(a, url, echo=quiet).problems == []
    load_set(b, url, LoadOptions(append=True, force=True), echo=quiet)  # the printed way on
    assert verify_database(b, url, echo=quiet).problems == []


def test_repair_of_a_merged_append_moves_the_sequences_past_its_rows(
    tmp_path: Path, make_db
) -> None:
    """Found by the fault test: the merged rows stay, so the app's next insert must not collide."""
    a, b = make_set(tmp_path / "a"), make_set(tmp_path / "b", seed=43, key_offset=100_000)
    url = make_db()
    load_set(a, url, echo=quiet)
    _killed(b, url, "after-rebuild:1", "--append")
    code, err = _cli("repair", "--database-url", url)
    assert code == 0, err
    assert scalar(url, "SELECT max(id) FROM generation_jobs") > 100_000
    for table, column in (("generation_jobs", "id"), ("content_items_all", "id")):
        top = scalar(url, f"SELECT max({column}) FROM {table}")
        seq = scalar(url, f"SELECT pg_get_serial_sequence('{table}', '{column}')") or (
            "public.content_items_id_seq"
        )
        assert scalar(url, f"SELECT last_value FROM {seq}") >= top, (table, seq)


def test_a_stale_restored_flag_does_not_hide_a_missing_object(small_set: Path, make_db) -> None:
    """The ledger's flag claims every object restored; the catalog says they are dropped."""
    url = make_db()
    before = state(url)[0]
    _killed(small_set, url, "after-drop")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE seedgen.saved_objects SET restored = true")
    load_set(small_set, url, LoadOptions(resume=True), echo=quiet)
    assert state(url)[0] == before  # the old code left every dropped object out, 'complete'
    assert verify_database(small_set, url, echo=quiet).problems == []


def _sqlalchemy_partial_index(url: str) -> str:
    """The real genonaut partial index as SQLAlchemy emits it from ``col.in_([...])``."""
    jobs = Table(
        "generation_jobs",
        MetaData(),
        Column("status", String(20)),
        Column("created_at", DateTime),
        schema="public",
    )
    index = Index(
        PRIORITY,
        jobs.c.status,
        jobs.c.created_at,
        postgresql_where=jobs.c.status.in_(["pending", "running"]),
    )
    ddl = str(CreateIndex(index).compile(dialect=postgresql.dialect()))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP INDEX public.{PRIORITY}")
        conn.execute(ddl)
        return str(conn.execute(f"SELECT pg_get_indexdef('{PRIORITY}'::regclass)").fetchone()[0])


def test_a_faithful_rebuild_printed_differently_verifies(small_set: Path, make_db) -> None:
    url = make_db()
    original = _sqlalchemy_partial_index(url)
    assert "])::text[]" in original  # the SQLAlchemy spelling
    load_set(small_set, url, echo=quiet)
    rebuilt = scalar(url, f"SELECT pg_get_indexdef('{PRIORITY}'::regclass)")
    assert rebuilt != original  # PostgreSQL prints the rebuilt one differently
    assert scalar(url, "SELECT status FROM seedgen.loads") == "complete"
    code, err = _cli("verify", str(small_set), "--database-url", url)
    assert code == 0, err
    with psycopg.connect(url, autocommit=True) as conn:  # an old ledger: nothing printed
        conn.execute("UPDATE seedgen.saved_objects SET printed = NULL")
    assert verify_database(small_set, url, echo=quiet).problems == []  # the LIKE-clone test


def test_an_object_replaced_under_its_name_is_never_complete(small_set: Path, make_db) -> None:
    url = make_db()
    before = state(url)[0]
    _killed(small_set, url, "after-drop")
    other = f"CREATE INDEX {PRIORITY} ON public.generation_jobs (status)"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(other)
    with pytest.raises(LoadError, match=f"{PRIORITY} exists but is not the one saved"):
        load_set(small_set, url, LoadOptions(resume=True), echo=quiet)
    assert scalar(url, "SELECT status FROM seedgen.loads ORDER BY id DESC LIMIT 1") == "running"
    code, err = _cli("repair", "--database-url", url)
    assert code == 6 and f"DROP INDEX public.{PRIORITY}" in err, err
    with psycopg.connect(url, autocommit=True) as conn:  # do what the hint says
        conn.execute(f"DROP INDEX public.{PRIORITY}")
    code, err = _cli("repair", "--database-url", url)
    assert code == 0, err
    assert state(url) == (before, 0)
    load_set(small_set, url, echo=quiet)  # and after a complete load, verify notices too
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP INDEX public.{PRIORITY}")
        conn.execute(other)
    code, err = _cli("verify", str(small_set), "--database-url", url)
    assert code == 7 and f"index public.{PRIORITY} differs" in err, err


def test_a_python_bug_is_undone_and_keeps_its_type(small_set: Path, make_db, monkeypatch) -> None:
    url = make_db()
    before = state(url)

    def bug(*_a: object) -> None:
        raise ZeroDivisionError("a bug, not a load error")

    monkeypatch.setattr(loader.load_phases, "check_counts", bug)  # in the graph, after COPY
    with pytest.raises(ZeroDivisionError, match="a bug") as caught:
        load_set(small_set, url, echo=quiet)
    assert caught.traceback[-1].name == "bug"  # the traceback reaches the raise
    assert state(url) == before
    assert scalar(url, "SELECT status FROM seedgen.loads") == "rolled_back"


def test_force_validates_before_it_resets(small_set: Path, make_db) -> None:
    url = make_db()
    load_set(small_set, url, echo=quiet)
    loaded = state(url)
    with pytest.raises(LoadError, match="--maintenance-work-mem 'lots'"):
        load_set(small_set, url, LoadOptions(force=True, maintenance_work_mem="lots"), echo=quiet)
    assert state(url) == loaded  # the old code deleted the rows, then said nothing changed
    assert scalar(url, "SELECT status FROM seedgen.loads") == "complete"


def test_a_regenerated_identical_set_is_the_same_set(small_set: Path, tmp_path: Path, make_db):
    again = make_set(tmp_path / "again")
    # generated a moment later: another created_at (forced, both may fall in one second)
    write_manifest(
        again, read_manifest(again).model_copy(update={"created_at": "2020-01-01T00:00:00+00:00"})
    )
    first, second = read_manifest(small_set), read_manifest(again)
    assert set_identity(first) == set_identity(second)
    assert manifest_checksum(first) != manifest_checksum(second)  # created_at differs
    assert set_identity(read_manifest(make_set(tmp_path / "seed7", seed=7))) != set_identity(first)
    url = make_db()
    load_set(small_set, url, echo=quiet)
    with pytest.raises(SchemaMismatchError, match="already loaded") as refused:
        load_set(again, url, echo=quiet)  # the old code: "target tables already hold rows"
    assert f"`seedgen load {again} --database-url URL --force`" in str(refused.value.hint)
    load_set(again, url, LoadOptions(force=True), echo=quiet)
    assert scalar(url, "SELECT string_agg(status, ',' ORDER BY id) FROM seedgen.loads") == (
        "reset,complete"
    )
    with psycopg.connect(url, autocommit=True) as conn:  # as an older seedgen recorded it
        conn.execute("UPDATE seedgen.loads SET manifest_sha256 = %s", (manifest_checksum(second),))
    with pytest.raises(SchemaMismatchError, match="already loaded"):
        load_set(again, url, echo=quiet)
    code, err = _cli("reset", str(again), "--database-url", url, "--confirm")
    assert code == 0, err
    assert scalar(url, "SELECT count(*) FROM users") == 0


def test_a_missing_database_suggests_create_database(small_set: Path) -> None:
    url = "postgresql://127.0.0.1:5432/seedgen_t_nowhere_test"
    code, err = _cli("load", str(small_set), "--database-url", url)
    assert code == 6 and "--create-database` creates it" in err, err


def test_rows_of_another_set_are_refused_naming_their_way_out(tmp_path: Path, make_db) -> None:
    first = make_set(tmp_path / "first")
    url = make_db()
    load_set(first, url, echo=quiet)
    other = make_set(tmp_path / "seed7", seed=7)
    with pytest.raises(SchemaMismatchError, match="already hold rows") as refused:
        load_set(other, url, echo=quiet)
    assert f"`seedgen reset {first} --database-url URL --confirm` removes" in str(refused.value)
    make_set(tmp_path / "first", seed=8)  # regenerated in place: reset cannot find those rows
    with pytest.raises(SchemaMismatchError, match="no longer holds that set"):
        load_set(other, url, echo=quiet)
