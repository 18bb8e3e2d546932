"""A shard set is untrusted input: hostile manifests are refused with one line, nothing written.

Each case copies a small, valid set, makes one hostile change, runs the real CLI and checks: a
non-zero exit, exactly one ``error:`` line naming the problem plus a ``hint:`` line, no
traceback, and a target database whose catalog (relations, schemas, functions, types,
extensions) and rows are as before — not even the ``seedgen`` ledger schema appears.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import psycopg.conninfo
import pyarrow.parquet as pq
import pytest
from psycopg import sql

from loader import ddl
from loader.load import LoadOptions, load_set
from seedgen import devdb, untrusted
from seedgen.errors import ManifestError, SeedgenError
from seedgen.manifest import MANIFEST_NAME, read_manifest
from tests.conftest import ADMIN, SCHEMA_SQL, fetch, make_set, seedgen

TINY = {
    "target_rows_users": 20,
    "target_rows_content_items": 60,
    "target_rows_content_items_auto": 60,
}
CATALOG = """
SELECT 'relation ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
UNION ALL SELECT 'schema ' || nspname FROM pg_namespace
UNION ALL SELECT 'function ' || p.oid::regprocedure::text
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
UNION ALL SELECT 'type ' || t.typname
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
UNION ALL SELECT 'extension ' || extname FROM pg_extension
ORDER BY 1
"""
Mutate = Callable[[dict[str, Any], Path], None]


@pytest.fixture(scope="module")
def base_sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hostile-base")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DB_USER_ADMIN_UUID", ADMIN)
        return {
            "parquet": make_set(root / "parquet", **TINY),
            "csv": make_set(root / "csv", format="csv", **TINY),
        }


@pytest.fixture(scope="module")
def db(server: str) -> Iterator[Callable[..., str]]:
    """Two databases shared by the module: with the real schema, and empty. A refusal writes
    nothing (each test checks), so sharing them is safe; both hold an app table, ``canary``."""
    made: dict[bool, str] = {}

    def get(with_schema: bool = True) -> str:
        if with_schema not in made:
            name = f"seedgen_t_{uuid.uuid4().hex[:10]}_test"
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            made[with_schema] = devdb.as_url(devdb.with_dbname(server, name))
            with psycopg.connect(made[with_schema], autocommit=True) as conn:
                if with_schema:
                    conn.execute(SCHEMA_SQL.read_text())
                    conn.execute("SELECT pg_catalog.set_config('search_path', 'public', false)")
                conn.execute("CREATE TABLE public.canary (id int PRIMARY KEY)")
                conn.execute("INSERT INTO public.canary VALUES (1)")
        return made[with_schema]

    yield get
    with psycopg.connect(server, autocommit=True) as conn:
        for url in made.values():
            name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def snapshot(url: str) -> tuple[list[tuple[Any, ...]], dict[str, int]]:
    """The database's catalog and the row count of every table in ``public``."""
    rows: dict[str, int] = {}
    with psycopg.connect(url) as conn:
        catalog = conn.execute(CATALOG).fetchall()
        tables = conn.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
            "AND relkind IN ('r', 'p')"
        ).fetchall()
        for (name,) in tables:
            query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("public", name))
            rows[name] = conn.execute(query).fetchone()[0]  # type: ignore[index]
    return catalog, rows


def hostile(base: Path, dst: Path, mutate: Mutate) -> Path:
    set_dir = shutil.copytree(base, dst / "set")
    raw = json.loads((set_dir / MANIFEST_NAME).read_text())
    mutate(raw, set_dir)
    (set_dir / MANIFEST_NAME).write_text(json.dumps(raw, indent=1))
    return set_dir


def assert_refused(url: str, set_dir: Path, message: str, *extra: str) -> None:
    """The CLI refuses with one error line matching ``message`` and a hint; nothing written."""
    before = snapshot(url)
    result = seedgen("load", str(set_dir), "--database-url", url, *extra)
    out = result.stdout + result.stderr
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    hints = [line for line in out.splitlines() if line.startswith("hint:")]
    assert result.returncode not in (0, 1), out  # 1 is a bug's exit; ours are 2..7
    assert "Traceback" not in out, out
    assert len(errors) == 1 and len(hints) == 1, out
    assert re.search(message, errors[0]), out
    assert snapshot(url) == before
    assert not fetch(url, "SELECT 1 FROM pg_namespace WHERE nspname = 'seedgen'")


def table(raw: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in raw["tables"] if t["name"] == name)


def outside_copy(set_dir: Path) -> Path:
    """The users shard, copied next to the set (valid bytes and sha256, outside the set)."""
    outside = set_dir.parent / "outside"
    outside.mkdir()
    return Path(shutil.copy(set_dir / "users" / "users-00000.parquet", outside))


# ----------------------------------------------------------------------------- shard paths


def _traversal(raw: dict[str, Any], set_dir: Path) -> None:
    outside_copy(set_dir)
    table(raw, "users")["shards"][0]["file"] = "../outside/users-00000.parquet"


def _etc_passwd(raw: dict[str, Any], set_dir: Path) -> None:
    data = Path("/etc/passwd").read_bytes()
    shard = table(raw, "users")["shards"][0]
    shard.update(
        file="../" * 12 + "etc/passwd", bytes=len(data), sha256=hashlib.sha256(data).hexdigest()
    )


def _absolute(raw: dict[str, Any], set_dir: Path) -> None:
    table(raw, "users")["shards"][0]["file"] = str(outside_copy(set_dir))


def _symlink_out(raw: dict[str, Any], set_dir: Path) -> None:
    target = outside_copy(set_dir)
    (set_dir / "users" / "users-00000.parquet").unlink()
    os.symlink(target, set_dir / "users" / "users-00000.parquet")


def _symlinked_dir(raw: dict[str, Any], set_dir: Path) -> None:
    target = outside_copy(set_dir).parent
    shutil.rmtree(set_dir / "users")
    os.symlink(target, set_dir / "users")


def _nul_in_path(raw: dict[str, Any], set_dir: Path) -> None:
    table(raw, "users")["shards"][0]["file"] = "users/users-00000.parquet\x00.txt"


PATHS = {
    "traversal": (_traversal, r"climbs out of the set"),
    "etc-passwd": (_etc_passwd, r"climbs out of the set"),
    "absolute": (_absolute, r"is absolute"),
    "symlink-out": (_symlink_out, r"users-00000\.parquet\): resolves outside the set"),
    "symlinked-dir": (_symlinked_dir, r"resolves outside the set"),
    "nul": (_nul_in_path, r"without NUL"),
}


@pytest.mark.parametrize("case", sorted(PATHS))
def test_shard_paths_stay_inside_the_set(
    case: str, base_sets: dict[str, Path], tmp_path: Path, db
) -> None:
    mutate, message = PATHS[case]
    set_dir = hostile(base_sets["parquet"], tmp_path, mutate)
    assert_refused(db(), set_dir, message)


def test_a_manifest_linked_from_outside_the_set_is_refused(
    base_sets: dict[str, Path], tmp_path: Path, db
) -> None:
    set_dir = hostile(base_sets["parquet"], tmp_path, lambda raw, set_dir: None)
    elsewhere = tmp_path / "elsewhere.json"
    (set_dir / MANIFEST_NAME).rename(elsewhere)
    os.symlink(elsewhere, set_dir / MANIFEST_NAME)
    assert_refused(db(), set_dir, r"manifest\.json is a link to a file outside the set")


# ----------------------------------------------------------------------------- manifest


def _rows_as_text(raw: dict[str, Any], set_dir: Path) -> None:
    users = table(raw, "users")
    users["rows"] = str(users["rows"])


def _version_true(raw: dict[str, Any], set_dir: Path) -> None:
    raw["manifest_version"] = True


def _version_4(raw: dict[str, Any], set_dir: Path) -> None:
    raw["manifest_version"] = 4


def _quote_in_schema(raw: dict[str, Any], set_dir: Path) -> None:
    table(raw, "users")["schema_name"] = 'public"; DROP TABLE canary; --'


def _nul_in_name(raw: dict[str, Any], set_dir: Path) -> None:
    table(raw, "users")["primary_key"] = ["id\x00"]


def _overlong_name(raw: dict[str, Any], set_dir: Path) -> None:
    table(raw, "tags")["depends_on"] = ["t" * 64]


def _huge_bytes(raw: dict[str, Any], set_dir: Path) -> None:
    table(raw, "users")["shards"][0]["bytes"] = 1 << 60


def _negative_rows(raw: dict[str, Any], set_dir: Path) -> None:
    table(raw, "users")["rows"] = -1
    table(raw, "users")["shards"][0]["rows"] = -1


def _sums_differ(raw: dict[str, Any], set_dir: Path) -> None:
    table(raw, "content_tags")["rows"] += 1


def _shard_twice(raw: dict[str, Any], set_dir: Path) -> None:
    users = table(raw, "users")
    users["shards"].append(dict(users["shards"][0]))
    users["rows"] *= 2


MANIFESTS = {
    "rows-as-text": (_rows_as_text, r"tables\.0\.rows \(table 'users'\): Input should be"),
    "version-true": (_version_true, r"no integer manifest_version"),
    "version-4": (_version_4, r"manifest_version 4 is newer"),
    "quote-in-identifier": (_quote_in_schema, r"schema_name.*quote or a control character"),
    "nul-in-identifier": (_nul_in_name, r"primary_key.*quote or a control character"),
    "overlong-identifier": (_overlong_name, r"is 64 bytes, PostgreSQL keeps 63"),
    "huge-declared-bytes": (_huge_bytes, r"bytes.*less than or equal to 1099511627776"),
    "negative-rows": (_negative_rows, r"rows.*greater than or equal to 0"),
    "row-sums-differ": (_sums_differ, r"content_tags.*shards hold [\d,]+ rows, the table says"),
    "shard-listed-twice": (_shard_twice, r"a shard file is listed twice"),
}


@pytest.mark.parametrize("case", sorted(MANIFESTS))
def test_hostile_manifest_fields(case: str, base_sets: dict[str, Path], tmp_path: Path, db) -> None:
    mutate, message = MANIFESTS[case]
    set_dir = hostile(base_sets["parquet"], tmp_path, mutate)
    assert_refused(db(), set_dir, message)


def test_huge_declared_rows_in_a_csv_set(base_sets: dict[str, Path], tmp_path: Path, db) -> None:
    """CSV shards have no row count to check before COPY: the bytes bound the rows."""

    def mutate(raw: dict[str, Any], set_dir: Path) -> None:
        table(raw, "users")["rows"] = 10**9
        table(raw, "users")["shards"][0]["rows"] = 10**9

    set_dir = hostile(base_sets["csv"], tmp_path, mutate)
    assert_refused(db(), set_dir, r"users/users-00000\.csv: 1,000,000,000 rows in [\d,]+ bytes")


def _raw_text(base: Path, dst: Path, edit: Callable[[str], str]) -> Path:
    set_dir = shutil.copytree(base, dst / "set")
    path = set_dir / MANIFEST_NAME
    path.write_text(edit(path.read_text()))
    return set_dir


TEXTS: dict[str, tuple[Callable[[str], str], str]] = {
    "malformed-json": (lambda text: text[: len(text) // 2], r"not valid JSON"),
    "deep-nesting": (
        lambda text: text.replace(
            '"config": {', '"config": {"x": ' + "[" * 100_000 + "]" * 100_000 + ", ", 1
        ),
        r"JSON nested 65 deep, more than 64",
    ),
    "huge-integer": (
        lambda text: re.sub(r'"seed": \d+', '"seed": ' + "9" * 5000, text, count=1),
        r"Exceeds the limit",
    ),
    "duplicate-key": (
        lambda text: text.replace(
            '"manifest_version": 3', '"manifest_version": 4, "manifest_version": 3', 1
        ),
        r"key 'manifest_version' appears twice",
    ),
    "nan": (
        lambda text: re.sub(r'"seed": \d+', '"seed": NaN', text, count=1),
        r"NaN is not a JSON number",
    ),
    "huge-file": (
        lambda text: text.rstrip() + " " * ((64 << 20) + 1 - len(text.rstrip())),
        r"bytes, more than the 67,108,864 a manifest may have",
    ),
}


@pytest.mark.parametrize("case", sorted(TEXTS))
def test_malformed_manifest_text(case: str, base_sets: dict[str, Path], tmp_path: Path, db) -> None:
    edit, message = TEXTS[case]
    set_dir = _raw_text(base_sets["parquet"], tmp_path, edit)
    assert_refused(db(), set_dir, message)


# ----------------------------------------------------------------------------- DDL


def _statement(table_name: str, statement: str) -> Mutate:
    def mutate(raw: dict[str, Any], set_dir: Path) -> None:
        entry = next(d for d in raw["ddl"] if d["table"] == table_name)
        entry["statements"].append(statement)

    return mutate


def _extension(name: str) -> Mutate:
    def mutate(raw: dict[str, Any], set_dir: Path) -> None:
        raw["extensions"].append(name)

    return mutate


def _undeclared_entry(raw: dict[str, Any], set_dir: Path) -> None:
    raw["ddl"].append({"table": "accounts", "statements": ["CREATE TABLE accounts (id int)"]})


DDL = {
    "drop-table": (
        _statement("users", "DROP TABLE public.canary"),
        r"users, statement \d+: DROP TABLE public\.canary refused",
    ),
    "create-function": (
        _statement(
            "users",
            "CREATE FUNCTION public.evil() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        ),
        r"users, statement \d+: CREATE FUNCTION public\.evil refused",
    ),
    "hidden-second-statement": (
        _statement("users", "CREATE INDEX users_x ON users (id); DROP TABLE public.canary"),
        r"users, statement \d+: refused, 2 statements in one \(CREATE INDEX, DROP TABLE\)",
    ),
    "do-block": (
        _statement("tags", "DO $$ BEGIN EXECUTE 'DROP TABLE public.canary'; END $$"),
        r"tags, statement \d+: DO refused",
    ),
    "create-undeclared-table": (
        _statement("users", "CREATE TABLE public.accounts (id int)"),
        r"CREATE TABLE public\.accounts refused: on public\.accounts, but this is the DDL of "
        r"public\.users",
    ),
    "undeclared-ddl-entry": (
        _undeclared_entry,
        r"DDL for table accounts: refused, accounts is not a table of the set",
    ),
    "extension-plpython3u": (
        _extension("plpython3u"),
        r"CREATE EXTENSION plpython3u refused",
    ),
    "create-extension-statement": (
        _statement("users", "CREATE EXTENSION IF NOT EXISTS plpgsql_check"),
        r"CREATE EXTENSION refused: plpgsql_check is not an allowed extension",
    ),
    "function-in-check": (
        _statement(
            "users",
            "ALTER TABLE users ADD CONSTRAINT peek "
            "CHECK (length(pg_read_file('/etc/hostname')) > 0)",
        ),
        r"ALTER TABLE public\.users refused: function pg_read_file\(\) is not allowed",
    ),
    "create-schema-of-no-table": (
        _statement("users", "CREATE SCHEMA IF NOT EXISTS evil"),
        r"users, statement \d+: CREATE SCHEMA.* refused: evil is no schema of the set's tables",
    ),
    "create-schema-with-elements": (
        _statement("users", "CREATE SCHEMA public CREATE TABLE canary2 (id int)"),
        r"users, statement \d+: CREATE SCHEMA.* refused: schema elements and AUTHORIZATION",
    ),
    "partition-of-an-app-table": (
        lambda raw, _dir: raw["ddl"].append(
            {
                "table": "canary_p",
                "statements": ["CREATE TABLE canary_p PARTITION OF canary DEFAULT"],
            }
        ),
        r"DDL for table canary_p: refused, canary_p is not a table of the set",
    ),
    "fk-to-an-app-table": (
        _statement(
            "users",
            "ALTER TABLE users ADD CONSTRAINT grab FOREIGN KEY (id) REFERENCES canary (id)",
        ),
        r"ALTER TABLE public\.users refused: public\.canary is not a table of the set",
    ),
}


@pytest.mark.parametrize("case", sorted(DDL))
def test_hostile_ddl_is_refused_before_anything_runs(
    case: str, base_sets: dict[str, Path], tmp_path: Path, db
) -> None:
    mutate, message = DDL[case]
    set_dir = hostile(base_sets["parquet"], tmp_path, mutate)
    url = db(with_schema=False)
    assert_refused(url, set_dir, message, "--create-schema")


# ----------------------------------------------------------------------------- post-load


def _post_load(statement: str) -> Mutate:
    def mutate(raw: dict[str, Any], set_dir: Path) -> None:
        raw["post_load"] = ["ANALYZE users", statement]

    return mutate


POST_LOAD = {
    "drop-table": ("DROP TABLE public.canary", r"step 2: DROP TABLE public\.canary refused"),
    "write-an-app-table": (
        "INSERT INTO canary SELECT 2",
        r"step 2: INSERT public\.canary refused: public\.canary is not a table of the set",
    ),
    "write-a-loaded-table": (
        "UPDATE users SET is_admin = true",
        r"step 2: UPDATE public\.users refused: it writes public\.users, a table the set loads "
        r"rows into",
    ),
    "read-an-app-table": (
        "UPDATE users SET id = users.id FROM canary",
        r"step 2: UPDATE public\.users refused: public\.canary is not a table of the set",
    ),
    "hidden-second-statement": (
        "ANALYZE tags; DROP TABLE public.canary",
        r"step 2: refused, 2 statements in one \(ANALYZE, DROP TABLE\)",
    ),
    "function-call": (
        "DELETE FROM users WHERE pg_read_file('/etc/hostname') IS NOT NULL",
        r"step 2: DELETE public\.users refused: function pg_read_file\(\) is not allowed",
    ),
    "data-modifying-with": (
        "WITH gone AS (DELETE FROM users RETURNING id) INSERT INTO tags SELECT * FROM gone",
        r"step 2: INSERT public\.tags refused: a WITH query may only SELECT",
    ),
    "do-block": ("DO $$ BEGIN EXECUTE 'DROP TABLE public.canary'; END $$", r"step 2: DO refused"),
    "copy-to-program": ("COPY users TO PROGRAM 'true'", r"step 2: COPY public\.users refused"),
    "set-role": ("SET ROLE nobody", r"step 2: VARIABLE SET refused"),
    "refresh-a-missing-view": (
        "REFRESH MATERIALIZED VIEW app_view",
        r"post-load step 2 \(REFRESH MATERIALIZED VIEW public\.app_view\): public\.app_view "
        r"does not exist in this database",
    ),
}


@pytest.mark.parametrize("case", sorted(POST_LOAD))
def test_hostile_post_load_steps_are_refused_before_anything_runs(
    case: str, base_sets: dict[str, Path], tmp_path: Path, db
) -> None:
    statement, message = POST_LOAD[case]
    set_dir = hostile(base_sets["parquet"], tmp_path, _post_load(statement))
    assert_refused(db(), set_dir, message)


def test_dry_run_shows_every_ddl_statement(base_sets: dict[str, Path], db) -> None:
    url = db(with_schema=False)
    before = snapshot(url)
    result = seedgen(
        "load", str(base_sets["parquet"]), "--database-url", url, "--create-schema", "--dry-run"
    )
    assert result.returncode == 0, result.stderr
    shown = {line.strip() for line in result.stderr.splitlines() if "would run: " in line}
    schema = ddl.check(read_manifest(base_sets["parquet"]))
    statements = [s for stmts in schema.tables.values() for s in stmts]
    # every statement of the manifest, none merged away or left out
    assert len(statements) == sum(
        len(d.statements) for d in read_manifest(base_sets["parquet"]).ddl
    )
    assert {f"would run: {s}" for s in statements} <= shown
    assert (
        "would run: CREATE INDEX IF NOT EXISTS idx_generation_jobs_prompt_gist ON "
        "public.generation_jobs USING gist (prompt gist_trgm_ops)" in shown
    )
    assert any(
        s.startswith("would run: CREATE TABLE IF NOT EXISTS public.users (id uuid") for s in shown
    )
    assert snapshot(url) == before


def _manifest(set_dir: Path) -> dict[str, Any]:
    return json.loads((set_dir / MANIFEST_NAME).read_text())  # type: ignore[no-any-return]


# ----------------------------------------------------------------------------- verify


def test_verify_checks_shard_checksums(base_sets: dict[str, Path], tmp_path: Path, make_db) -> None:
    set_dir = shutil.copytree(base_sets["parquet"], tmp_path / "set")
    url = make_db()
    assert seedgen("load", str(set_dir), "--database-url", url).returncode == 0
    assert seedgen("verify", str(set_dir), "--database-url", url).returncode == 0
    shard = set_dir / _manifest(set_dir)["tables"][1]["shards"][0]["file"]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    result = seedgen("verify", str(set_dir), "--database-url", url)
    assert result.returncode == 3, result.stderr
    assert re.search(r"^error: table tags, shard 00000 .*sha256 mismatch", result.stderr, re.M)


def _recompress(shard: Path) -> None:  # the same rows, other bytes: a valid Parquet file
    pq.write_table(pq.read_table(shard), shard, compression="gzip")


def _same_size(shard: Path) -> None:  # a valid CSV file of the same size, one value changed
    header, _, rows = shard.read_bytes().partition(b"\n")
    shard.write_bytes(header + b"\n" + rows.replace(b"a", b"b", 1))


def _fifo(shard: Path) -> None:  # opening it would block; reading it could never end
    shard.unlink()
    os.mkfifo(shard)


SWAPS = {
    "parquet-recompressed": ("parquet", _recompress, "bytes, the manifest says"),
    "csv-same-size": ("csv", _same_size, "sha256 mismatch"),
    "fifo": ("parquet", _fifo, "not a regular file any more"),
}


@pytest.mark.parametrize("case", sorted(SWAPS))
def test_a_shard_changed_after_verification_loads_nothing(
    case: str, base_sets: dict[str, Path], tmp_path: Path, make_db
) -> None:
    """The set is hashed before the load, then each shard again on the very bytes COPY sends,
    after checking it is still a regular file of its size: a file rewritten or replaced in
    between is refused (no hang, no memory filled), none of it loaded, and the failed initial
    load leaves every table empty with its indexes back."""
    fmt, swap, why = SWAPS[case]
    set_dir = shutil.copytree(base_sets[fmt], tmp_path / "set")
    url = make_db()
    indexes = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"
    before = fetch(url, indexes)
    shard = set_dir / _manifest(set_dir)["tables"][0]["shards"][0]["file"]

    def swap_after_verify(message: str) -> None:
        if message.startswith("verified "):  # hashed: COPY has not started
            swap(shard)

    with pytest.raises(SeedgenError) as caught:
        load_set(set_dir, url, LoadOptions(), echo=swap_after_verify)
    assert f"{shard.name}: the file changed since the set was verified (" in str(caught.value), (
        caught.value
    )
    assert why in str(caught.value), caught.value
    for table in read_manifest(set_dir).tables:
        assert fetch(url, f"SELECT count(*) FROM {table.name}") == [(0,)]  # noqa: S608
    assert fetch(url, indexes) == before and len(before) > 100


# ----------------------------------------------------------------------------- the allow-list

MORE_DDL = {
    "CREATE TEMP TABLE users (id int)": "temporary or cross-database",
    "CREATE TABLE public.users2 (LIKE users)": "on public.users2, but this is the DDL of",
    "CREATE TABLE users (id int) INHERITS (pg_authid)": "public.pg_authid is not a table",
    "CREATE TABLE users (id int DEFAULT nextval('app_seq'))": "nextval.. of a sequence the set",
    "CREATE INDEX x ON users USING evil_am (id)": "USING evil_am",
    "CREATE INDEX x ON public.tags (id)": "on public.tags, but this is the DDL of public.users",
    "CREATE INDEX x ON users ((public.f(id)))": r"function public\.f\(\) is not allowed",
    "ALTER TABLE users OWNER TO nobody": "AT_ChangeOwner is not allowed",
    "ALTER SEQUENCE content_items_id_seq RESTART 1": "only OWNED BY, not restart",
    "COMMENT ON TABLE public.tags IS 'x'": "on public.tags, but this is the DDL of public.users",
    "CREATE TYPE mood AS ENUM ('ok')": "type mood is no column's type",
    "GRANT ALL ON users TO PUBLIC": "GRANT refused",
    "SELECT pg_read_file('/etc/passwd')": "SELECT refused",
    "CREATE TABLE users AS SELECT 1": "CREATE TABLE AS refused",
    "CREATE TABLE users (": "does not parse",
}


@pytest.mark.parametrize("statement", sorted(MORE_DDL))
def test_ddl_allow_list(statement: str, base_sets: dict[str, Path]) -> None:
    """More of what the allow-list refuses (in process: ``loader.ddl.check``)."""
    manifest = read_manifest(base_sets["parquet"])
    entries = [
        d.model_copy(update={"statements": [*d.statements, statement]}) if d.table == "users" else d
        for d in manifest.ddl
    ]
    with pytest.raises(ManifestError, match=MORE_DDL[statement]) as refused:
        ddl.check(manifest.model_copy(update={"ddl": entries}))
    assert "\n" not in refused.value.message and refused.value.hint


def test_a_table_with_two_ddl_entries_is_refused(base_sets: dict[str, Path]) -> None:
    manifest = read_manifest(base_sets["parquet"])
    users = next(d for d in manifest.ddl if d.table == "users")
    twice = manifest.model_copy(update={"ddl": [*manifest.ddl, users]})
    with pytest.raises(ManifestError, match="table users has two DDL entries"):
        ddl.check(twice)


def test_deeply_nested_ddl_is_one_line_not_a_recursion_error(base_sets: dict[str, Path]) -> None:
    manifest = read_manifest(base_sets["parquet"])
    deep = "CREATE INDEX x ON users ((" + "lower(" * 2000 + "id" + ")" * 2000 + "))"
    entries = [
        d.model_copy(update={"statements": [deep]}) if d.table == "users" else d
        for d in manifest.ddl
    ]
    with pytest.raises(ManifestError, match="CREATE INDEX public.users refused: nested too deeply"):
        ddl.check(manifest.model_copy(update={"ddl": entries}))


def test_the_datasets_ddl_is_accepted_and_qualified(base_sets: dict[str, Path]) -> None:
    schema = ddl.check(read_manifest(base_sets["parquet"]))
    assert schema.extensions == ["pg_trgm", "btree_gin"]
    assert schema.tables["content_items"][-1] == (
        "ALTER TABLE public.content_items_all ATTACH PARTITION public.content_items "
        "FOR VALUES IN ('items')"
    )


@pytest.mark.parametrize(
    ("value", "depth"),
    [
        ([], 1),
        ({"a": [1, {"b": 'x[[["\\'}]}, 3),
        ({"a": "\\", "b": [[1]]}, 3),
        (["{{ domain }}", '"[', "\\\\"], 1),
        ([[[[[]]]]], 5),
    ],
)
def test_json_depth_ignores_brackets_in_strings(value: object, depth: int) -> None:
    text = json.dumps(value)
    assert untrusted.json_depth(text) == depth
    assert untrusted.json_depth("[" * 10_000, limit=64) == 65  # stops at the first excess
