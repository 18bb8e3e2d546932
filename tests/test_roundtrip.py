"""Value round trip: generate -> load into the real genonaut schema -> COPY out -> compare.

Every table, every column, every value, typed: the rows come back with ``COPY (SELECT ...
ORDER BY pk) TO STDOUT (FORMAT BINARY)`` as psycopg's Python values (uuid, naive UTC
timestamps, parsed JSON, floats bit for bit, booleans, NULLs), and the shards are read with
pyarrow, independently of the loader, and converted to the same Python types. Parquet and CSV
sets both. ``test_the_comparer_*`` prove that one changed value in a valid set (checksums fixed)
fails the comparison.
"""

from __future__ import annotations

import json
import math
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from psycopg import sql

from loader.load import load_set
from loader.setcheck import verify_set
from seedgen.manifest import MANIFEST_NAME, Manifest, TableSpec, read_manifest, sha256_file
from tests.conftest import ADMIN, make_set, scratch_database
from tests.shards import read_shard, read_table, table_schema

Rows = dict[tuple[Any, ...], tuple[Any, ...]]
Loaded = tuple[Path, psycopg.Connection, dict[str, Rows]]
_TEXT = ("text", "character varying", "character")


def _parse_json(text: str) -> Any:
    return json.loads(text)


# How a shard value (as pyarrow gives it) becomes the Python value psycopg gives for the column.
_FROM_SHARD: dict[str, Callable[[Any], Any]] = {
    "uuid": uuid.UUID,
    "json": _parse_json,
    "jsonb": _parse_json,
    "numeric": Decimal,
}
_AS_IS = (
    "integer",
    "bigint",
    "smallint",
    "boolean",
    "double precision",
    "real",
    "date",
    "timestamp without time zone",
    "timestamp with time zone",
    *_TEXT,
)


def _base_type(pg_type: str) -> str:
    return pg_type.split("(")[0]


def shard_converter(pg_type: str) -> Callable[[Any], Any]:
    base = _base_type(pg_type)
    if base in _FROM_SHARD:
        return _FROM_SHARD[base]
    if base in _AS_IS:
        return lambda v: v
    raise TypeError(f"the round trip does not compare {pg_type} yet: add it here")


def expected_rows(set_dir: Path, manifest: Manifest, spec: TableSpec) -> Rows:
    """The shards' rows as typed Python tuples, keyed by primary key."""
    table = read_table(set_dir, manifest, spec)
    converters = [shard_converter(c.pg_type) for c in spec.columns]
    columns = [table[c.name].to_pylist() for c in spec.columns]
    key_at = [[c.name for c in spec.columns].index(k) for k in spec.primary_key]
    rows: Rows = {}
    for values in zip(*columns, strict=True):
        row = tuple(None if v is None else f(v) for f, v in zip(converters, values, strict=True))
        key = tuple(row[k] for k in key_at)
        assert key not in rows, f"{spec.name}: primary key {key} twice in the shards"
        rows[key] = row
    return rows


def database_rows(conn: psycopg.Connection, spec: TableSpec) -> Rows:
    """``COPY (SELECT <manifest columns> FROM t ORDER BY pk) TO STDOUT``, binary, typed."""
    types = dict(
        conn.execute(
            "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass "
            "AND attnum > 0 AND NOT attisdropped",
            (".".join(sql.Identifier(p).as_string(conn) for p in spec.qualified),),
        ).fetchall()
    )
    order = sql.SQL(", ").join(
        sql.SQL('{} COLLATE "C"' if _base_type(c.pg_type) in _TEXT else "{}").format(
            sql.Identifier(c.name)
        )
        for k in spec.primary_key
        for c in spec.columns
        if c.name == k
    )
    query = sql.SQL("COPY (SELECT {} FROM {} ORDER BY {}) TO STDOUT (FORMAT BINARY)").format(
        sql.SQL(", ").join(sql.Identifier(c.name) for c in spec.columns),
        sql.Identifier(*spec.qualified),
        order,
    )
    key_at = [[c.name for c in spec.columns].index(k) for k in spec.primary_key]
    rows: Rows = {}
    with conn.cursor().copy(query) as copy:
        copy.set_types([types[c.name] for c in spec.columns])
        for row in copy.rows():
            rows[tuple(row[k] for k in key_at)] = row
    return rows


def same(a: Any, b: Any) -> bool:
    """Equal values of the same type; JSON compared as canonical text (1 is not 1.0 or true)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict | list):
        return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    return bool(a == b)


def database_tables(conn: psycopg.Connection, manifest: Manifest) -> dict[str, Rows]:
    return {spec.name: database_rows(conn, spec) for spec in manifest.tables}


def compare(set_dir: Path, database: dict[str, Rows], limit: int = 20) -> list[str]:
    """Every difference between a set's shards and the database's rows, one line each."""
    manifest = read_manifest(set_dir)
    diffs: list[str] = []
    for spec in manifest.tables:
        want, got = expected_rows(set_dir, manifest, spec), database[spec.name]
        diffs += [f"{spec.name} {k}: missing in the database" for k in want.keys() - got.keys()]
        diffs += [f"{spec.name} {k}: in the database only" for k in got.keys() - want.keys()]
        for key in want.keys() & got.keys():
            for column, a, b in zip(spec.columns, want[key], got[key], strict=True):
                if not same(a, b):
                    diffs.append(f"{spec.name} {key} {column.name}: shard {a!r}, database {b!r}")
    return diffs[:limit] + ([f"... {len(diffs) - limit} more"] if len(diffs) > limit else [])


# --------------------------------------------------------------------------- fixtures


def _load(fmt: str, tmp_path_factory: pytest.TempPathFactory, server: str) -> Iterator[Loaded]:
    """A small set in ``fmt``, loaded into a fresh database with the real schema; its rows."""
    with scratch_database(server) as url:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("DB_USER_ADMIN_UUID", ADMIN)
            set_dir = make_set(tmp_path_factory.mktemp(fmt) / "set", format=fmt)
        load_set(set_dir, url, echo=lambda _m: None)
        with psycopg.connect(url, autocommit=True) as conn:
            yield set_dir, conn, database_tables(conn, read_manifest(set_dir))


@pytest.fixture(scope="module")
def parquet_loaded(tmp_path_factory: pytest.TempPathFactory, server: str) -> Iterator[Loaded]:
    yield from _load("parquet", tmp_path_factory, server)


@pytest.fixture(scope="module")
def csv_loaded(tmp_path_factory: pytest.TempPathFactory, server: str) -> Iterator[Loaded]:
    yield from _load("csv", tmp_path_factory, server)


# --------------------------------------------------------------------------- the round trip


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_every_value_round_trips(request: pytest.FixtureRequest, fmt: str) -> None:
    set_dir, conn, database = request.getfixturevalue(f"{fmt}_loaded")
    manifest = read_manifest(set_dir)
    for spec in manifest.tables:
        live = [
            r[0]
            for r in conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass "
                "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                (f"public.{spec.name}",),
            )
        ]
        written = [c.name for c in spec.columns]
        assert [c for c in live if c in written] == written, f"{spec.name}: every column compared"
        for column in set(live) - set(written):  # left out of the set (``TableGen.omit``): NULL
            query = sql.SQL("SELECT count({}) FROM {}").format(
                sql.Identifier(column), sql.Identifier(spec.name)
            )
            assert conn.execute(query).fetchone() == (0,), f"{spec.name}.{column} is not NULL"
        assert spec.rows > 0
    assert compare(set_dir, database) == []


# --------------------------------------------------------------------------- the comparer


def _rewrite_shard(set_dir: Path, table: str, column: str, row: int, change: Any) -> None:
    """Apply ``change`` to one value of a copied set, rewrite its shard and fix the manifest's
    size and sha256, so that the set is valid again."""
    manifest = read_manifest(set_dir)
    spec = manifest.table(table)
    shard = next(s for s in spec.shards if s.rows > row)
    path = set_dir / shard.file
    data = read_shard(path, manifest.format, table_schema(spec))
    at = data.schema.get_field_index(column)
    values = data[column].to_pylist()
    values[row] = change(values[row])
    data = data.set_column(at, data.schema.field(at), pa.array(values, data.schema.field(at).type))
    if manifest.format == "parquet":
        pq.write_table(data, path, compression="zstd")
    else:
        pacsv.write_csv(data, path)
    raw = json.loads((set_dir / MANIFEST_NAME).read_text())
    for entry in (s for t in raw["tables"] for s in t["shards"] if s["file"] == shard.file):
        entry.update(bytes=path.stat().st_size, sha256=sha256_file(path))
    (set_dir / MANIFEST_NAME).write_text(json.dumps(raw, indent=2))
    verify_set(set_dir)  # sizes, checksums, row counts, columns: a valid set


def _next_float(x: float) -> float:
    return math.nextafter(x, math.inf)


MUTATIONS = {
    "float, one ulp": ("content_items", "quality_score", 7, _next_float),
    "timestamp, one microsecond": (
        "generation_jobs",
        "completed_at",
        3,
        lambda t: t.replace(microsecond=1),
    ),
    "uuid, one digit": (
        "content_items",
        "creator_id",
        11,
        lambda u: u[:-1] + ("0" if u[-1] != "0" else "1"),
    ),
    "json, one element": (
        "users",
        "preferences",
        5,
        lambda p: json.dumps({"favorite_tags": [*json.loads(p)["favorite_tags"], "cats"]}),
    ),
    "json, another object": ("tags", "tag_metadata", 2, lambda _m: '{"n": 1}'),
    "NULL for a value": ("generation_jobs", "content_id", 0, lambda _v: None),
    "empty text for NULL": ("generation_jobs", "error_message", 0, lambda _v: ""),
    "boolean flipped": ("users", "is_active", 4, lambda b: not b),
    "text, trailing space": ("content_items_auto", "prompt", 9, lambda p: p + " "),
    "integer key": ("content_items", "id", 1, lambda i: i + 100_000),
}


# CSV keeps the mutations its text could get wrong: float digits, NULL versus empty, time.
CSV_MUTATIONS = [
    "float, one ulp",
    "timestamp, one microsecond",
    "NULL for a value",
    "empty text for NULL",
]


@pytest.mark.parametrize(
    ("fmt", "mutation"), [("parquet", m) for m in MUTATIONS] + [("csv", m) for m in CSV_MUTATIONS]
)
def test_the_comparer_catches_one_changed_value(
    request: pytest.FixtureRequest, tmp_path: Path, fmt: str, mutation: str
) -> None:
    set_dir, _conn, database = request.getfixturevalue(f"{fmt}_loaded")
    table, column, row, change = MUTATIONS[mutation]
    copy = tmp_path / "copy"
    shutil.copytree(set_dir, copy)
    _rewrite_shard(copy, table, column, row, change)
    diffs = compare(copy, database)
    if column == "id":  # a changed key: one row missing, one the database lacks
        assert len(diffs) == 2 and all(d.startswith(f"{table} ") for d in diffs), diffs
    else:
        assert len(diffs) == 1 and diffs[0].startswith(f"{table} ") and f" {column}: " in diffs[0]


def test_same_is_strict_about_types() -> None:
    """What the typed comparison must not let through, though ``==`` would."""
    naive = datetime(2025, 5, 1, 4, 0)
    assert not same(1, 1.0) and not same(True, 1) and not same("1", 1)
    assert not same({"a": 1}, {"a": 1.0}) and not same([True], [1])
    assert not same(naive, naive.replace(tzinfo=UTC))
    assert not same(None, "") and not same(uuid.UUID(ADMIN), ADMIN)
    assert same(float("nan"), float("nan")) and same({"a": [1, "x"]}, {"a": [1, "x"]})
