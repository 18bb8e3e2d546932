"""Property tests over small random specs: any valid spec generates the same data whatever the
sharding, and loads into PostgreSQL with every declared constraint (PK, UNIQUE, FK, NOT NULL,
types) and the manifest's exact counts."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as hs
from psycopg import sql

from generator.spec.dataset import SpecDataset, prepare
from loader.load import LoadOptions, load_set
from seedgen.manifest import read_manifest
from seedgen.settings import GenerateSettings
from tests.conftest import fetch, scalar
from tests.test_spec_infer import make

# SEEDGEN_SPEC_EXAMPLES=200 for a deep run; CI runs a handful (each example loads a database).
DEEP = int(os.environ.get("SEEDGEN_SPEC_EXAMPLES", "0"))
VALUE_KINDS: list[dict[str, Any]] = [
    {"kind": "range", "min": -5, "max": 50, "type": "integer"},
    {"kind": "normal", "mean": 10, "sd": 3, "type": "numeric(8,2)"},
    {"kind": "lognormal", "median": 5, "sigma": 1, "type": "double precision"},
    {"kind": "bool", "share": 0.3},
    {"kind": "choice", "values": ["a", "b", "c"], "weights": [1, 2, 3]},
    {"kind": "quota", "values": [1, 2], "weights": [1, 3], "type": "smallint"},
    {"kind": "timestamp", "start": "2024-01-01", "end": "2024-02-01", "type": "timestamptz"},
    {"kind": "timestamp", "start": "2020-01-01", "end": "2024-02-01", "type": "date"},
    {"kind": "faker", "provider": "word", "type": "varchar(6)"},
    {"kind": "faker", "provider": "email", "unique": True},
    {"kind": "list", "values": ["x", "y", "z"], "max_items": 2, "type": "jsonb"},
    {"kind": "list", "values": ["x", "y"], "format": "array", "type": "text[]"},
    {"kind": "json", "fields": {"n": {"kind": "range", "min": 0, "max": 9}}},
    {"kind": "const", "value": "k"},
]
KEYS = [{"kind": "sequence"}, {"kind": "uuid"}, {"kind": "uuid", "version": 7}, {"kind": "nanoid"}]
COUNTS = [
    {"kind": "fixed", "n": 2},
    {"kind": "uniform", "min": 0, "max": 3},
    {"kind": "poisson", "mean": 1.5},
    {"kind": "geometric", "mean": 1},
    {"kind": "zipf", "min": 1, "max": 4},
]


@hs.composite
def specs(draw: hs.DrawFn) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    for t in range(draw(hs.integers(1, 4))):
        name = draw(hs.sampled_from([f"t{t}", f"s1.t{t}"]))  # public or a schema of its own
        columns: dict[str, Any] = {"id": draw(hs.sampled_from(KEYS))}
        table: dict[str, Any] = {"primary_key": ["id"], "columns": columns}
        parents = list(tables)
        if parents and draw(hs.booleans()):
            parent = draw(hs.sampled_from(parents))
            table["per_parent"] = {"table": parent, "count": draw(hs.sampled_from(COUNTS))}
            columns["parent_id"] = {"kind": "ref", "table": parent}
        else:
            table["rows"] = draw(hs.integers(0, 40))
        for c in range(draw(hs.integers(0, 4))):
            value = dict(draw(hs.sampled_from(VALUE_KINDS)))
            if draw(hs.integers(0, 3)) == 0 and not value.get("unique"):
                value = {"kind": "nullable", "share": 0.3, "of": value}
            columns[f"c{c}"] = value
        if parents and draw(hs.booleans()):
            parent = draw(hs.sampled_from(parents))
            ref = {
                "kind": "ref",
                "table": parent,
                "distribution": draw(hs.sampled_from(["uniform", "power"])),
            }
            # a parent that may have no rows takes a nullable reference (else: a plan error)
            may_be_empty = not tables[parent].get("rows")
            nullable = may_be_empty or draw(hs.booleans())
            columns["other_id"] = {"kind": "nullable", "of": ref} if nullable else ref
            columns["copied"] = {"kind": "copy_from_parent", "ref": "other_id", "column": "id"}
        if draw(hs.booleans()):  # a forest: each row under an earlier one (or none)
            up = {"kind": "ref", "table": name}
            columns["up_id"] = {"kind": "nullable", "share": 0.2, "of": up}
        tables[name] = table
    fixed = [n for n, t in tables.items() if t.get("rows")]
    if fixed and draw(hs.booleans()):  # a link table keyed by a grid of two references
        a, b = draw(hs.sampled_from(fixed)), draw(hs.sampled_from(fixed))
        ref_a = {"kind": "ref", "table": a, "grid": "g"}
        ref_b = {"kind": "ref", "table": b, "grid": "g"}
        combos = tables[a]["rows"] * tables[b]["rows"]
        tables["link"] = {
            "rows": draw(hs.integers(0, min(combos, 60))),
            "primary_key": ["a_id", "b_id"],
            "columns": {"a_id": ref_a, "b_id": ref_b, "w": {"kind": "bool"}},
        }
    return {"dataset": "prop", "tables": tables}


def _context(tmp: Path, spec: dict[str, Any]) -> dict[str, Any]:
    path = tmp / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return prepare(path)


def _rows(context: dict[str, Any], shard: int) -> dict[str, pa.Table]:
    dataset = SpecDataset(GenerateSettings(), context)
    out = {}
    for table in dataset.tables():
        parts = [
            pa.table(dataset.build(table.name, a, min(a + shard, table.rows)))
            for a in range(0, table.rows, shard)
        ]
        out[table.name] = pa.concat_tables(parts) if parts else None
    return out


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(spec=specs())
def test_any_spec_is_the_same_whatever_the_sharding(tmp_path: Path, spec: dict[str, Any]) -> None:
    context = _context(tmp_path, spec)
    whole, pieces = _rows(context, 10**6), _rows(context, 7)
    for name, table in whole.items():
        assert (table is None) == (pieces[name] is None)
        assert table is None or table.equals(pieces[name]), name


@settings(
    max_examples=DEEP or 5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(spec=specs())
def test_any_spec_loads_with_every_constraint(
    tmp_path: Path, make_db, spec: dict[str, Any]
) -> None:
    context = _context(tmp_path, spec)
    set_dir = make(tmp_path / "set", context, shard_rows=13)
    url = make_db(with_schema=False)
    load_set(set_dir, url, LoadOptions(create_schema=True), echo=lambda _m: None)
    for table in read_manifest(set_dir).tables:
        count = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*table.qualified))
        assert scalar(url, count) == table.rows


@hs.composite
def partitioned(draw: hs.DrawFn) -> str:
    """DDL of a random partitioned table (RANGE on an integer or a date, LIST, HASH; 1-3
    partitions, maybe a DEFAULT one) in ``public`` or schema ``s1``, with an FK to a plain table
    in the other schema."""
    home, other = draw(hs.sampled_from([("public", "s1"), ("s1", "public")]))
    how = draw(hs.sampled_from(["range_int", "range_date", "list", "hash"]))
    n = draw(hs.integers(1, 3))
    default = how != "hash" and draw(hs.booleans())
    key = {"range_int": "k integer", "range_date": "k date", "list": "k text", "hash": "k uuid"}
    by = {"range_int": "RANGE", "range_date": "RANGE", "list": "LIST", "hash": "HASH"}[how]
    cuts = sorted(draw(hs.sets(hs.integers(0, 400), min_size=n + 1, max_size=n + 1)))
    bounds = []
    for i in range(n):
        if how == "range_int":
            bounds.append(f"FROM ({cuts[i]}) TO ({cuts[i + 1]})")
        elif how == "range_date":
            bounds.append(f"FROM ('{_day(cuts[i])}') TO ('{_day(cuts[i + 1])}')")
        elif how == "list":
            bounds.append("IN (" + ", ".join(f"'v{i}{j}'" for j in range(1 + i % 2)) + ")")
        else:
            bounds.append(f"WITH (MODULUS {n}, REMAINDER {i})")
    rows = [
        "CREATE SCHEMA IF NOT EXISTS s1",
        f"CREATE TABLE {other}.owner (id bigint PRIMARY KEY, name text NOT NULL)",
        f"CREATE TABLE {home}.p (id bigint NOT NULL, {key[how]} NOT NULL, "
        f"owner_id bigint REFERENCES {other}.owner (id), note text, PRIMARY KEY (id, k)) "
        f"PARTITION BY {by} (k)",
        f"CREATE INDEX p_owner_idx ON {home}.p (owner_id)",
        *(
            f"CREATE TABLE {home}.p_{i} PARTITION OF {home}.p FOR VALUES {b}"
            for i, b in enumerate(bounds)
        ),
    ]
    if default:
        rows.append(f"CREATE TABLE {home}.p_default PARTITION OF {home}.p DEFAULT")
    return ";\n".join(rows)


def _day(offset: int) -> str:
    return (date(2024, 1, 1) + timedelta(days=offset)).isoformat()


@settings(
    max_examples=DEEP or 4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ddl=partitioned())
@example(  # bounds compared as text put 100 before 2: "the partitions' ranges have gaps"
    ddl="CREATE SCHEMA IF NOT EXISTS s1;\n"
    "CREATE TABLE s1.owner (id bigint PRIMARY KEY, name text NOT NULL);\n"
    "CREATE TABLE public.p (id bigint NOT NULL, k integer NOT NULL, owner_id bigint "
    "REFERENCES s1.owner (id), note text, PRIMARY KEY (id, k)) PARTITION BY RANGE (k);\n"
    "CREATE INDEX p_owner_idx ON public.p (owner_id);\n"
    "CREATE TABLE public.p_0 PARTITION OF public.p FOR VALUES FROM (2) TO (100);\n"
    "CREATE TABLE public.p_1 PARTITION OF public.p FOR VALUES FROM (100) TO (101)"
)
def test_any_partitioned_table_loads_into_its_partitions(tmp_path: Path, make_db, ddl: str) -> None:
    """Reflected with no spec, every row lands in a partition (keys drawn inside the bounds),
    with every constraint and index present in a database the set's own DDL built."""
    source = make_db(with_schema=False)
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(ddl)
    set_dir = make(tmp_path / "set", prepare(None, None, source), shard_rows=97)
    url = make_db(with_schema=False)
    load_set(set_dir, url, LoadOptions(create_schema=True), echo=lambda _m: None)
    for table in read_manifest(set_dir).tables:
        count = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*table.qualified))
        assert scalar(url, count) == table.rows
    objects = (
        "SELECT c.relname, k.contype::text FROM pg_constraint k JOIN pg_class c "
        "ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname IN ('public', 's1') UNION ALL SELECT c.relname, i.indisvalid::text "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 's1') ORDER BY 1, 2"
    )
    assert fetch(url, objects) == fetch(source, objects)
