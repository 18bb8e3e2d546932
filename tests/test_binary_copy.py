"""Binary COPY from Arrow (``loader.binary``) loads exactly what the CSV path loads, and refuses
exactly what it refuses.

Each case writes one Parquet shard by hand, COPYs it once through the binary path and once
through the CSV path (``copy_shard`` with binary disabled) into two twin tables, and compares
the rows as PostgreSQL prints them. Hostile values (a varchar too long, a NUL byte, bad JSON, a
timestamp out of range) must fail both ways; uuids not in canonical form must make the shard go
as CSV, where PostgreSQL judges them itself.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loader import binary
from loader.copy import copy_shard
from seedgen.manifest import ColumnSpec, ShardSpec, TableSpec, sha256_file

COLUMNS = [  # (name, PostgreSQL type, Arrow type)
    ("id", "integer", pa.int32()),
    ("big", "bigint", pa.int64()),
    ("small", "smallint", pa.int16()),
    ("flag", "boolean", pa.bool_()),
    ("x", "double precision", pa.float64()),
    ("r", "real", pa.float32()),
    ("day", "date", pa.date32()),
    ("at", "timestamp without time zone", pa.timestamp("us")),
    ("atz", "timestamp with time zone", pa.timestamp("us", tz="UTC")),
    ("body", "text", pa.string()),
    ("name", "character varying(5)", pa.string()),
    ("anyvc", "character varying", pa.string()),
    ("doc", "jsonb", pa.string()),
    ("raw", "json", pa.string()),
    ("ref", "uuid", pa.string()),
]
U1, U2 = str(uuid.uuid4()), str(uuid.uuid4())
GOOD = {
    "id": [1, 2, 3],
    "big": [2**62, None, -(2**63)],
    "small": [-32768, 32767, None],
    "flag": [True, False, None],
    "x": [1.5, float("nan"), float("-inf")],
    "r": [0.1, None, 3.25],
    "day": [dt.date(1, 1, 1), None, dt.date(2026, 12, 2)],
    "at": [dt.datetime(1999, 12, 31, 23, 59, 59, 999999), None, dt.datetime(2000, 1, 1)],
    "atz": [dt.datetime(2026, 1, 1, tzinfo=dt.UTC), None, dt.datetime(1970, 1, 1, tzinfo=dt.UTC)],
    "body": ['héllo, "world"\n\\N', "", None],
    "name": ["abcde", "ñññññ", None],
    "anyvc": ["x" * 3000, None, "\t"],
    "doc": [json.dumps({"a": [1, 2.50, None], "é": "\u2603"}), "[]", None],
    "raw": ['{"a" : 1,  "a": 2}', "null", None],
    "ref": [U1, U2.upper(), None],
}


def _table(columns: list[tuple[str, str, pa.DataType]], rows: int, path: Path) -> TableSpec:
    return TableSpec(
        name="t",
        columns=[
            ColumnSpec(name=n, pg_type=pg, nullable=True, arrow_type=str(at))
            for n, pg, at in columns
        ],
        primary_key=[],
        depends_on=[],
        rows=rows,
        batch_rows=2,
        shards=[ShardSpec(file=path.name, start=0, stop=rows, rows=rows, bytes=0, sha256="0" * 64)],
    )


def _write(tmp_path: Path, values: dict[str, list[object]]) -> tuple[TableSpec, Path]:
    columns = [c for c in COLUMNS if c[0] in values]
    arrays = [pa.array(values[n], type=at) for n, _, at in columns]
    path = tmp_path / "shard.parquet"
    pq.write_table(
        pa.Table.from_arrays(arrays, names=[c[0] for c in columns]), path, row_group_size=2
    )
    return _table(columns, len(arrays[0]), path), path


def _load(url: str, table: TableSpec, path: Path, use_binary: bool) -> list[tuple[str, ...]]:
    """COPY the shard into a fresh table ``t``; its rows as text, or the error's first line."""
    cols = ", ".join(f"{c.name} {c.pg_type}" for c in table.columns)
    with psycopg.connect(url) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute(f"DROP TABLE IF EXISTS t; CREATE TABLE t ({cols})")
        assert binary.suits(table, path) or not use_binary
        suits = binary.suits
        if not use_binary:
            binary.suits = lambda *_: False  # type: ignore[assignment]
        try:
            copy_shard(
                conn.cursor(),
                table,
                path,
                "parquet",
                table.rows,
                lambda r, b: None,
                sha256=sha256_file(path),
                size=path.stat().st_size,
            )
        finally:
            binary.suits = suits  # type: ignore[assignment]
        return conn.execute("SELECT t::text FROM t ORDER BY 1").fetchall()


def _both(url: str, table: TableSpec, path: Path) -> tuple[object, object]:
    out = []
    for use_binary in (True, False):
        try:
            out.append(_load(url, table, path, use_binary))
        except (psycopg.Error, pa.ArrowException) as exc:
            out.append(("error", type(exc).__name__))
    return out[0], out[1]


def test_every_binary_kind_loads_what_csv_loads(make_db, tmp_path: Path) -> None:
    url = make_db(with_schema=False)
    table, path = _write(tmp_path, GOOD)
    assert binary.kinds(table) is not None and binary.suits(table, path)
    by_binary, by_csv = _both(url, table, path)
    assert by_binary == by_csv and len(by_binary) == 3  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("name", "abcdef"),  # varchar(5) overflow
        ("body", "nul\x00byte"),
        ("doc", '{"a": '),
        ("raw", "{bad json"),
        ("at", -(2**62)),  # microseconds: about 144,000 BC, before PostgreSQL's 4713 BC
    ],
)
def test_hostile_values_fail_both_ways(make_db, tmp_path: Path, column: str, value: object) -> None:
    url = make_db(with_schema=False)
    values = {k: v[:1] for k, v in GOOD.items()}
    values[column] = [value]
    table, path = _write(tmp_path, values)
    by_binary, by_csv = _both(url, table, path)
    assert by_binary[0] == "error" and by_csv[0] == "error", (by_binary, by_csv)  # type: ignore[index]


@pytest.mark.parametrize("spelling", ["{%s}", "%s ", "x%s", "%s"])
def test_a_non_canonical_uuid_sends_the_shard_as_csv(
    make_db, tmp_path: Path, spelling: str
) -> None:
    url = make_db(with_schema=False)
    odd = spelling % U1 if spelling != "%s" else U1.replace("-", "")
    table, path = _write(tmp_path, {"id": [1, 2], "ref": [U2, odd]})
    assert not binary.suits(table, path)
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE t (id integer, ref uuid)")
        try:
            digest, size = sha256_file(path), path.stat().st_size
            done = lambda r, b: None  # noqa: E731
            copy_shard(conn.cursor(), table, path, "parquet", 2, done, sha256=digest, size=size)
        except psycopg.errors.InvalidTextRepresentation:
            assert spelling in ("%s ", "x%s")  # PostgreSQL itself refuses these
            return
        got = conn.execute("SELECT ref FROM t ORDER BY id").fetchall()
    assert got == [(uuid.UUID(U2),), (uuid.UUID(U1),)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.uuids(), st.text(max_size=40)), max_size=30))
def test_uuid_bytes_accepts_exactly_the_canonical_spellings(values: list[object]) -> None:
    texts = [v if v is None or isinstance(v, str) else str(v) for v in values]
    texts = [t.upper() if isinstance(t, str) and i % 2 else t for i, t in enumerate(texts)]
    got = binary.uuid_bytes(pa.array(texts, pa.string()))

    def canonical(t: str) -> bool:
        try:
            return str(uuid.UUID(t)) == t.lower() and len(t) == 36
        except ValueError:
            return False

    if all(t is None or canonical(t) for t in texts):
        assert got is not None
        assert got.to_pylist() == [None if t is None else uuid.UUID(t).bytes for t in texts]
    else:
        assert got is None
