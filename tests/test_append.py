"""``seedgen load --append``: a second set next to existing rows.

No key collision gets in (refused before anything is written), unique conflicts are filtered with
their dependents, shared rows (admin, tags) are kept, small appends keep their indexes, a killed
append resumes to the same end state as an uninterrupted one, and reset removes exactly the
appended rows.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest

from loader.check import verify_database
from loader.load import LoadOptions, load_set
from loader.reset import reset_set
from seedgen.errors import LoadError, SchemaMismatchError
from seedgen.manifest import read_manifest
from tests.conftest import ADMIN, GENONAUT_TABLES, fetch, make_set, scalar, seedgen
from tests.test_load_failures import quiet, state

APPEND = LoadOptions(append=True)
TINY = {
    "target_rows_users": 6,
    "target_rows_content_items": 10,
    "target_rows_content_items_auto": 10,
    "admin_rows_per_content_table": 2,
}


def fingerprint(url: str) -> dict[str, tuple]:
    """Row count and a digest of every row, per genonaut table."""
    out = {}
    for table in GENONAUT_TABLES:
        out[table] = fetch(
            url,
            f"SELECT count(*), md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) "
            f"FROM public.{table} x",
        )[0]
    return out


def work_tables(url: str) -> list[str]:
    return [
        r[0]
        for r in fetch(
            url,
            "SELECT tablename FROM pg_tables WHERE schemaname = 'seedgen' "
            "AND tablename ~ '^(stage|conflict|keys)_'",
        )
    ]


def shard_rows(set_dir: Path, table: str) -> list[dict]:
    manifest = read_manifest(set_dir)
    rows: list[dict] = []
    for shard in manifest.table(table).shards:
        rows += pq.read_table(set_dir / shard.file).to_pylist()
    return rows


def index_oids(url: str, table: str) -> list[int]:
    return [
        r[0]
        for r in fetch(
            url,
            "SELECT indexrelid::int FROM pg_index WHERE indrelid = %s::regclass ORDER BY 1",
            (f"public.{table}",),
        )
    ]


@pytest.fixture
def two_sets(tmp_path: Path) -> tuple[Path, Path]:
    return make_set(tmp_path / "a"), make_set(tmp_path / "b", seed=43, key_offset=100_000)


def test_second_set_appends_next_to_the_first(two_sets: tuple[Path, Path], make_db) -> None:
    a, b = two_sets
    url = make_db()
    load_set(a, url, echo=quiet)
    after_a = fingerprint(url)
    lines: list[str] = []
    report = load_set(b, url, APPEND, echo=lines.append)

    # the admin user and the tags are shared keys: the existing rows are kept as they were
    assert report.left_out["users"].get("present") == 1
    assert report.left_out["tags"] == {"present": 127} and report.inserted["tags"] == 0
    assert fingerprint(url)["tags"] == after_a["tags"]
    for table in read_manifest(b).tables:
        assert (
            fingerprint(url)[table.name][0] == after_a[table.name][0] + report.inserted[table.name]
        )
    assert report.inserted["content_tags"] == read_manifest(b).table("content_tags").rows
    plan = next(line for line in lines if line.startswith("plan: content_tags: append"))
    assert f"to ~{after_a['content_tags'][0]:,}" in plan and "drop and rebuild" in plan
    assert verify_database(a, url, echo=quiet).problems == []
    assert verify_database(b, url, echo=quiet).problems == []
    # staging and conflict tables are gone; the inserted keys stay for reset
    assert sorted(work_tables(url)) == sorted(
        f"keys_{report.load_id}_{n}" for n in range(len(GENONAUT_TABLES))
    )

    # the same set twice is still refused
    with pytest.raises(SchemaMismatchError, match="already loaded"):
        load_set(b, url, APPEND, echo=quiet)

    # reset of the appended set: exactly its rows go, the first set is as it was
    reset_set(b, url, confirm=True, echo=quiet)
    assert fingerprint(url) == after_a
    assert work_tables(url) == []

    # reset of the first set while the second is there keeps what the second shares
    report = load_set(b, url, APPEND, echo=quiet)
    lines = []
    reset_set(a, url, confirm=True, echo=lines.append)
    assert any("kept 1 shared" in line for line in lines)
    assert scalar(url, "SELECT count(*) FROM users WHERE id = %s", (ADMIN,)) == 1
    assert scalar(url, "SELECT count(*) FROM tags") == 127
    assert scalar(url, "SELECT count(*) FROM users") == report.inserted["users"] + 1
    assert verify_database(b, url, echo=quiet).problems == []  # it now owns the shared rows

    # verify notices an appended row that went missing
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM generation_jobs WHERE id = (SELECT max(id) FROM generation_jobs)")
    problems = verify_database(b, url, echo=quiet).problems
    jobs = report.inserted["generation_jobs"]
    assert problems == [
        f"generation_jobs: {jobs - 1} of the {jobs} rows load {report.load_id} "
        f"owns are there (it inserted {jobs})"
    ]

    # ...and the last reset removes the shared rows too: nothing of either set is left
    reset_set(b, url, confirm=True, echo=quiet)
    assert all(count == 0 for count, _ in fingerprint(url).values())


def test_key_collisions_are_refused_before_anything_is_written(tmp_path: Path, make_db) -> None:
    a = make_set(tmp_path / "a")
    url = make_db()
    load_set(a, url, echo=quiet)
    before, loads = fingerprint(url), scalar(url, "SELECT count(*) FROM seedgen.loads")
    same_ranges = make_set(tmp_path / "b", seed=43)
    with pytest.raises(SchemaMismatchError, match="key ranges overlap") as caught:
        load_set(same_ranges, url, APPEND, echo=quiet)
    assert fingerprint(url) == before
    assert scalar(url, "SELECT count(*) FROM seedgen.loads") == loads  # refused before starting
    # the hint's offset is enough: the regenerated set appends cleanly
    offset = int(re.search(r"--key-offset (\d+)", caught.value.hint or "").group(1))
    shifted = make_set(tmp_path / "c", seed=43, key_offset=offset)
    load_set(shifted, url, APPEND, echo=quiet)
    assert verify_database(shifted, url, echo=quiet).problems == []


def test_a_uuid_collision_found_after_staging_is_rolled_back(tmp_path: Path, make_db) -> None:
    b = make_set(tmp_path / "b", seed=43, key_offset=100_000)
    url = make_db()
    taken = shard_rows(b, "users")[7]["id"]  # an ordinary (not shared) key of the set
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO users (id, username, email, created_at, updated_at, is_active) "
            "VALUES (%s, 'somebody', 'somebody@app.example', now(), now(), true)",
            (taken,),
        )
    before = fingerprint(url)
    with pytest.raises(LoadError, match=f"keys of the set already exist.*{taken}"):
        load_set(b, url, APPEND, echo=quiet)
    assert fingerprint(url) == before
    assert scalar(url, "SELECT status FROM seedgen.loads") == "rolled_back"
    assert work_tables(url) == []


def test_unique_conflicts_in_an_app_database(tmp_path: Path, make_db) -> None:
    a = make_set(tmp_path / "a")
    url = make_db()
    users = shard_rows(a, "users")
    victim = users[5]
    names = ["realistic", "stylized", "abstract"]
    with psycopg.connect(url, autocommit=True) as conn:  # the application's own rows
        conn.execute(
            "INSERT INTO users (id, username, email, created_at, updated_at, is_active) "
            "VALUES (gen_random_uuid(), %s, 'taken@app.example', now(), now(), true)",
            (victim["username"],),
        )
        conn.execute(
            "INSERT INTO tags (id, name, tag_metadata, created_at, updated_at) "
            "SELECT gen_random_uuid(), n, '{}', now(), now() FROM unnest(%s::text[]) n",
            ([*names, "an-app-tag"],),
        )
        # an app column the set does not fill (its default does), an ALWAYS identity key
        conn.execute("ALTER TABLE users ADD COLUMN app_plan text NOT NULL DEFAULT 'free'")
        conn.execute("ALTER TABLE generation_jobs ALTER COLUMN id SET GENERATED ALWAYS")
    app = fingerprint(url)
    app_tags = dict(fetch(url, "SELECT name, id::text FROM tags"))
    lines: list[str] = []
    report = load_set(a, url, APPEND, echo=lines.append)
    text = "\n".join(lines)

    # the warning names the conflicting values and counts; the summary repeats it
    assert f"1 row(s) dropped: ix_users_username already taken: {victim['username']}" in text
    assert (
        "3 row(s) remapped to the existing row: ix_tags_name already taken: "
        + ", ".join(sorted(names))
        in text
    )
    assert report.left_out["users"] == {"drop": 1}
    assert report.left_out["tags"] == {"remap": 3}

    # the dropped user's content, its jobs and its items' tag links are dropped with it
    items = [r for t in ("content_items", "content_items_auto") for r in shard_rows(a, t)]
    theirs = [r for r in items if r["creator_id"] == victim["id"]]
    assert theirs, "the chosen user should own content in this set"
    cascaded = sum(
        report.left_out[t].get("cascade", 0) for t in ("content_items", "content_items_auto")
    )
    assert cascaded == len(theirs)
    assert report.left_out["content_tags"]["cascade"] == sum(
        1
        for link in shard_rows(a, "content_tags")
        for item in theirs
        if link["content_id"] == item["id"]
    )
    assert scalar(url, "SELECT count(*) FROM users WHERE id = %s", (victim["id"],)) == 0
    assert (
        scalar(url, "SELECT count(*) FROM generation_jobs WHERE user_id = %s", (victim["id"],)) == 0
    )

    # links to the remapped tags point at the application's tags
    for name in names:
        assert (
            scalar(url, "SELECT count(*) FROM content_tags WHERE tag_id = %s", (app_tags[name],))
            > 0
        )
    assert scalar(url, "SELECT count(*) FROM tags") == 127 + 1
    assert scalar(url, "SELECT count(DISTINCT app_plan) FROM users") == 1
    assert verify_database(a, url, echo=quiet).problems == []

    # reset removes exactly what the load inserted: the application's rows are untouched
    reset_set(a, url, confirm=True, echo=quiet)
    assert fingerprint(url) == app


def test_small_append_keeps_indexes_and_dry_run_prints_the_plan(tmp_path: Path, make_db) -> None:
    a = make_set(tmp_path / "a")
    tiny = make_set(tmp_path / "tiny", seed=44, key_offset=100_000, **TINY)
    url = make_db()
    load_set(a, url, echo=quiet)
    loads = scalar(url, "SELECT count(*) FROM seedgen.loads")
    with psycopg.connect(url, autocommit=True) as conn:  # must not fire during the load
        conn.execute(
            "CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql "
            "AS 'BEGIN RAISE EXCEPTION ''trigger fired''; END'"
        )
        conn.execute(
            "CREATE TRIGGER content_tags_refuse BEFORE INSERT ON public.content_tags "
            "FOR EACH ROW EXECUTE FUNCTION public.refuse()"
        )
    before = fingerprint(url)
    kept_before = index_oids(url, "content_tags")
    rebuilt_before = index_oids(url, "tags")

    lines: list[str] = []
    load_set(tiny, url, LoadOptions(append=True, dry_run=True), echo=lines.append)
    plan = [line for line in lines if line.startswith("plan: ")]
    assert len(plan) == len(GENONAUT_TABLES)
    assert any(
        line.startswith("plan: content_tags: append") and "keep its 3 index(es)" in line
        for line in plan
    ), plan
    assert any(
        line.startswith("plan: tags: append") and "drop and rebuild" in line for line in plan
    )
    assert fingerprint(url) == before
    assert scalar(url, "SELECT count(*) FROM seedgen.loads") == loads

    load_set(tiny, url, APPEND, echo=quiet)
    assert index_oids(url, "content_tags") == kept_before  # the same index objects
    # user triggers are disabled on tables that keep their indexes too, and come back
    assert (
        scalar(url, "SELECT tgenabled FROM pg_trigger WHERE tgname = 'content_tags_refuse'") == "O"
    )
    assert index_oids(url, "tags") != rebuilt_before
    assert verify_database(tiny, url, echo=quiet).problems == []
    assert verify_database(a, url, echo=quiet).problems == []

    # a ratio of 0 rebuilds every table, whatever its size
    reset_set(tiny, url, confirm=True, echo=quiet)
    lines = []
    load_set(tiny, url, LoadOptions(append=True, rebuild_ratio=0.0), echo=lines.append)
    assert not any("keep its" in line for line in lines)
    assert index_oids(url, "content_tags") != kept_before


def _cli_load(set_dir: Path, url: str, *extra: str, failpoint: str | None = None):
    env = {"SEEDGEN_FAILPOINT": failpoint} if failpoint else {}
    return seedgen("load", str(set_dir), "--database-url", url, *extra, env=env)


def test_killed_append_resumes_to_the_same_end_state(two_sets: tuple[Path, Path], make_db) -> None:
    a, b = two_sets
    reference = make_db()
    load_set(a, reference, echo=quiet)
    load_set(b, reference, APPEND, echo=quiet)
    expected = fingerprint(reference)
    points = ["after-start", "copy-batch:2", "after-copy", "after-drop", "merge-table:1"]
    for point in [*points, "merge-table:4", "server-restart"]:
        url = make_db()
        load_set(a, url, echo=quiet)
        killed = _cli_load(
            b, url, "--append", failpoint=point.replace("server-restart", "after-copy")
        )
        assert killed.returncode == -9, (point, killed.stderr)
        load_id = scalar(url, "SELECT max(id) FROM seedgen.loads")
        assert (
            scalar(url, "SELECT status FROM seedgen.loads WHERE id = %s", (load_id,)) == "running"
        )
        with pytest.raises(SchemaMismatchError, match="unfinished"):
            reset_set(b, url, confirm=True, echo=quiet)
        if point == "server-restart":  # what crash recovery does to an UNLOGGED table
            with psycopg.connect(url, autocommit=True) as conn:
                tags_at = [t.name for t in read_manifest(b).tables].index("content_tags")
                conn.execute(f"TRUNCATE seedgen.stage_{load_id}_{tags_at}")
        resumed = _cli_load(b, url, "--resume")
        assert resumed.returncode == 0, (point, resumed.stderr)
        if point == "server-restart":
            assert "content_tags: staging holds 0 rows" in resumed.stderr
        assert fingerprint(url) == expected, point
        assert verify_database(b, url, echo=quiet).problems == [], point
        assert sorted(work_tables(url)) == sorted(
            f"keys_{scalar(url, 'SELECT max(id) FROM seedgen.loads')}_{n}"
            for n in range(len(GENONAUT_TABLES))
        )


def test_repair_after_a_killed_append_then_reset(two_sets: tuple[Path, Path], make_db) -> None:
    a, b = two_sets
    url = make_db()
    load_set(a, url, echo=quiet)
    after_a = fingerprint(url)
    catalog_before = fetch(url, "SELECT pg_get_indexdef(indexrelid) FROM pg_index ORDER BY 1")
    killed = _cli_load(b, url, "--append", failpoint="merge-table:4")  # 3 tables merged
    assert killed.returncode == -9
    repaired = seedgen("repair", "--database-url", url)
    assert repaired.returncode == 0, repaired.stderr
    assert "3 table(s)" in repaired.stderr and "it had merged remain" in repaired.stderr
    assert (
        fetch(url, "SELECT pg_get_indexdef(indexrelid) FROM pg_index ORDER BY 1") == catalog_before
    )
    assert not any(t.startswith(("stage_", "conflict_")) for t in work_tables(url))
    # the repaired append keeps its merged rows, and they still use the shared admin and tags
    lines: list[str] = []
    reset_set(a, url, confirm=True, echo=lines.append)
    assert any("users" in line and "kept 1 shared" in line for line in lines), lines
    assert scalar(url, "SELECT count(*) FROM tags") == 127
    reset_set(b, url, confirm=True, echo=quiet)
    assert all(count == 0 for count, _ in fingerprint(url).values())
    assert after_a["users"][0] > 0


def test_an_error_after_the_merge_removes_only_the_appended_rows(tmp_path: Path, make_db) -> None:
    a = make_set(tmp_path / "a")
    url = make_db()
    victim = shard_rows(a, "users")[5]["username"]
    with psycopg.connect(url, autocommit=True) as conn:
        # an expression index the merge cannot check: the rebuild after the merge fails
        conn.execute("CREATE UNIQUE INDEX users_lower_name ON users (lower(username))")
        conn.execute(
            "INSERT INTO users (id, username, email, created_at, updated_at, is_active) "
            "VALUES (gen_random_uuid(), %s, 'app@app.example', now(), now(), true)",
            (victim.upper(),),
        )
    before = state(url)
    rows = fingerprint(url)
    lines: list[str] = []
    with pytest.raises(LoadError, match="users_lower_name"):
        load_set(a, url, APPEND, echo=lines.append)
    assert any("merged content_tags" in line for line in lines)  # it failed after merging
    assert state(url) == before and fingerprint(url) == rows
    assert scalar(url, "SELECT status FROM seedgen.loads") == "rolled_back"
    assert work_tables(url) == []


def test_references_the_merge_cannot_follow_are_refused(tmp_path: Path, make_db) -> None:
    a = make_set(tmp_path / "a")
    url = make_db()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE tags ADD CONSTRAINT tags_self FOREIGN KEY (id) REFERENCES tags")
    before = state(url)
    with pytest.raises(SchemaMismatchError, match="cannot yet follow tags_self"):
        load_set(a, url, APPEND, echo=quiet)
    assert state(url) == before
    assert scalar(url, "SELECT to_regclass('seedgen.loads') IS NULL")


def test_conflict_warnings_reach_quiet_and_json_output(tmp_path: Path, make_db) -> None:
    a = make_set(tmp_path / "a")
    victim = shard_rows(a, "users")[3]["username"]
    urls = []
    for _ in range(3):
        url = make_db()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO users (id, username, email, created_at, updated_at, is_active) "
                "VALUES (gen_random_uuid(), %s, 'app@app.example', now(), now(), true)",
                (victim,),
            )
        urls.append(url)
    as_json = seedgen("--log-json", "load", str(a), "--database-url", urls[0], "--append")
    assert as_json.returncode == 0, as_json.stderr
    events = [json.loads(line) for line in as_json.stdout.splitlines()]
    warnings = [e["message"] for e in events if e["event"] == "warning"]
    assert any(f"ix_users_username already taken: {victim}" in w for w in warnings), warnings
    quiet = seedgen("--quiet", "load", str(a), "--database-url", urls[1], "--append")
    assert quiet.returncode == 0, quiet.stderr
    assert f"warning: users: 1 row(s) dropped: ix_users_username already taken: {victim}" in (
        quiet.stderr
    )
    # a resumed append repeats the warnings of the tables merged before it was killed
    killed = _cli_load(a, urls[2], "--append", failpoint="merge-table:2")  # users merged
    assert killed.returncode == -9
    resumed = seedgen("--quiet", "load", str(a), "--database-url", urls[2], "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"ix_users_username already taken: {victim}" in resumed.stderr


def _app_rows(url: str, username: str) -> None:
    """Deterministic application rows: a user whose username the set also uses, taken tags."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO users (id, username, email, created_at, updated_at, is_active) "
            "VALUES ('00000000-0000-4000-8000-000000000001', %s, 'app@app.example', "
            "'2025-01-01', '2025-01-01', true)",
            (username,),
        )
        conn.execute(
            "INSERT INTO tags (id, name, tag_metadata, created_at, updated_at) "
            "SELECT ('00000000-0000-4000-8000-00000000010' || i)::uuid, n, '{}', "
            "'2025-01-01', '2025-01-01' FROM unnest(%s::text[]) WITH ORDINALITY t(n, i)",
            (["realistic", "stylized", "abstract"],),
        )


def test_a_restart_mid_merge_loses_no_remap_or_drop(tmp_path: Path, make_db) -> None:
    a = make_set(tmp_path / "a")
    victim = shard_rows(a, "users")[5]["username"]
    reference = make_db()
    _app_rows(reference, victim)
    load_set(a, reference, APPEND, echo=quiet)
    expected = fingerprint(reference)
    url = make_db()
    _app_rows(url, victim)
    killed = _cli_load(a, url, "--append", failpoint="merge-table:3")  # users, tags merged
    assert killed.returncode == -9
    with psycopg.connect(url, autocommit=True) as conn:  # crash recovery empties UNLOGGED tables
        for (name,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'seedgen' AND tablename ~ '^stage_'"
        ).fetchall():
            conn.execute(f"TRUNCATE seedgen.{name}")
    resumed = seedgen("load", str(a), "--database-url", url, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "content_items: staging holds 0 rows" in resumed.stderr
    assert fingerprint(url) == expected  # the victim's content dropped, tags remapped, as before
    assert verify_database(a, url, echo=quiet).problems == []


def test_force_replaces_a_repaired_append(two_sets: tuple[Path, Path], make_db) -> None:
    a, b = two_sets
    reference = make_db()
    load_set(a, reference, echo=quiet)
    load_set(b, reference, APPEND, echo=quiet)
    url = make_db()
    load_set(a, url, echo=quiet)
    assert _cli_load(b, url, "--append", failpoint="merge-table:4").returncode == -9
    assert seedgen("repair", "--database-url", url).returncode == 0
    with pytest.raises(SchemaMismatchError, match="--force"):
        load_set(b, url, APPEND, echo=quiet)
    load_set(b, url, LoadOptions(append=True, force=True), echo=quiet)
    assert fingerprint(url) == fingerprint(reference)
    statuses = [r[0] for r in fetch(url, "SELECT status FROM seedgen.loads ORDER BY id")]
    assert statuses == ["complete", "reset", "complete"]
