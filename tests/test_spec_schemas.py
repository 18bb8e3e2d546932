"""Schemas other than ``public`` and partitioned tables, with no spec (``--from-database``).

The source database (``fixtures/schemas_partitions.sql``) has an ``invoices`` in ``public`` and
in ``billing``, FKs across the two schemas, an enum and a serial sequence in ``billing``,
identity columns, and partitioned parents (RANGE by date with a DEFAULT partition, LIST, RANGE
by integer, HASH). The set fills the parents; every row must land in a partition by
construction, every constraint and index must be there, the sequences past the loaded keys,
and ``verify``, ``--append`` and ``reset`` must work on schema-qualified names.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest
import yaml
from psycopg import sql

from generator.spec.dataset import prepare
from generator.spec.sources import split_key
from seedgen.errors import SpecError
from seedgen.manifest import read_manifest
from tests.conftest import fetch, scalar, seedgen
from tests.test_spec_infer import make

SQL = Path(__file__).parent / "fixtures" / "schemas_partitions.sql"
OBJECTS = """
SELECT n.nspname, c.relname, k.contype::text, count(*) FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname IN ('public', 'billing') GROUP BY 1, 2, 3
UNION ALL
SELECT n.nspname, c.relname, 'index:' || i.indisvalid, count(*) FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname IN ('public', 'billing') GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""
PARTITIONS = """
SELECT tableoid::regclass::text, count(*) FROM billing.events GROUP BY 1
UNION ALL SELECT tableoid::regclass::text, count(*) FROM public.shipments GROUP BY 1
UNION ALL SELECT tableoid::regclass::text, count(*) FROM billing.ledger GROUP BY 1
ORDER BY 1
"""


@pytest.fixture
def dbs(make_db: Callable[..., str]) -> Callable[[bool], str]:
    """Scratch databases, with the fixture schema or empty."""
    return lambda with_schema=True: make_db(with_schema, SQL)


def ok(*args: str) -> str:
    done = seedgen(*args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def column(set_dir: Path, table: str, name: str) -> list[object]:
    manifest = read_manifest(set_dir)
    return [
        v
        for shard in manifest.table(table).shards
        for v in pq.read_table(set_dir / shard.file, columns=[name]).column(name).to_pylist()
    ]


def expected_partitions(set_dir: Path) -> list[tuple[str, int]]:
    """Per partition, the rows the shards route to it (by the fixture's bounds)."""

    def quarter(day: date) -> str:
        if date(2024, 1, 1) <= day < date(2024, 4, 1):
            return "billing.events_2024q1"
        return (
            "billing.events_2024q2"
            if date(2024, 4, 1) <= day < date(2024, 7, 1)
            else ("billing.events_other")
        )

    counts: Counter[str] = Counter()
    counts.update(quarter(d) for d in column(set_dir, "billing.events", "happened_on"))  # type: ignore[arg-type]
    counts.update(
        "shipments_us" if r == "us" else "shipments_eu"
        for r in column(set_dir, "shipments", "region")
    )
    counts.update(
        "billing.ledger_a" if int(i) < 500 else "billing.ledger_b"  # type: ignore[call-overload]
        for i in column(set_dir, "billing.ledger", "id")
    )
    return sorted(counts.items())


def counts_match(set_dir: Path, url: str) -> None:
    for table in read_manifest(set_dir).tables:
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*table.qualified))
        with psycopg.connect(url) as conn:
            row = conn.execute(query).fetchone()
        assert row and row[0] == table.rows, table.name


def test_two_schemas_and_partitions_load_with_every_constraint(tmp_path: Path, dbs) -> None:
    source = dbs(True)
    set_dir = tmp_path / "set"
    ok("generate", "--from-database", source, "--out", str(set_dir), "--force")
    manifest = read_manifest(set_dir)
    names = {t.name: t.qualified for t in manifest.tables}
    assert names["invoices"] == ("public", "invoices")
    assert names["billing.invoices"] == ("billing", "invoices")
    assert "billing.events" in names and "billing.events_2024q1" not in names  # the parent only
    assert {t.name: t.depends_on for t in manifest.tables}["billing.lines"] == ["billing.invoices"]
    partitions = expected_partitions(set_dir)
    assert all(n > 0 for _, n in partitions) and len(partitions) == 7

    built = dbs(True)  # by the original DDL
    fresh = dbs(False)  # by the set's DDL
    ok("load", str(set_dir), "--database-url", built)
    ok("load", str(set_dir), "--database-url", fresh, "--create-schema")
    for url in (built, fresh):
        counts_match(set_dir, url)
        assert fetch(url, OBJECTS) == fetch(source, OBJECTS)  # every constraint, valid indexes
        assert fetch(url, PARTITIONS) == partitions
        ok("verify", str(set_dir), "--database-url", url)  # exit 0
        # identity and serial sequences (also billing's) moved past the loaded keys
        for table in ("accounts", "invoices", "billing.invoices"):
            schema, rel = split_key(table)
            top = scalar(url, f'SELECT max(id) FROM "{schema}"."{rel}"')  # noqa: S608
            seq = scalar(url, "SELECT pg_get_serial_sequence(%s, 'id')", (f"{schema}.{rel}",))
            assert scalar(url, "SELECT nextval(%s)", (seq,)) > top
    assert fetch(fresh, "SELECT enum_range(NULL::billing.invoice_status)::text") == [
        ("{draft,sent,paid}",)
    ]


def test_append_a_second_set_and_reset(tmp_path: Path, dbs) -> None:
    source = dbs(True)
    first = make(tmp_path / "a", prepare(None, None, source))
    # billing.ledger's key is drawn inside its partitions' bounds (1..99999), not a reserved
    # sequence range: a second set of it would collide (--append refuses that), so set b
    # leaves it out
    spec = tmp_path / "b.yaml"
    spec.write_text("dataset: sch\ntables:\n  billing.ledger:\n    rows: 0\n")
    second = make(tmp_path / "b", prepare(spec, None, source), seed=43, key_offset=100_000)
    url = dbs(False)
    ok("load", str(first), "--database-url", url, "--create-schema")
    ok("load", str(second), "--database-url", url, "--append")
    both = {
        t.name: scalar(url, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*t.qualified)))
        for t in read_manifest(first).tables
    }
    # rows of set b whose account's email set a took are dropped with their dependents
    # (on_conflict: drop): in both schemas' tables, the partitions' parents too
    for name in ("accounts", "invoices", "billing.invoices", "billing.events", "shipments"):
        assert both[name] > read_manifest(first).table(name).rows, name
    assert both["billing.ledger"] == 1000
    ok("verify", str(second), "--database-url", url)
    ok("reset", str(second), "--database-url", url, "--confirm")
    counts_match(first, url)
    assert fetch(url, PARTITIONS) == expected_partitions(first)
    ok("reset", str(first), "--database-url", url, "--confirm")
    assert scalar(url, "SELECT count(*) FROM billing.events") == 0
    assert scalar(url, "SELECT count(*) FROM public.invoices") == 0


def test_a_written_spec_names_a_schema_by_prefix(tmp_path: Path, dbs) -> None:
    """``tables: {billing.invoices: ...}`` overrides that table only, not public.invoices."""
    source = dbs(True)
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "dataset: sch\ntables:\n  billing.invoices:\n    rows: 7\n  billing.lines:\n    rows: 3\n"
    )
    context = prepare(spec, None, source)
    rows = {t["name"]: t["spec"]["rows"] for t in context["tables"]}
    assert rows["billing.invoices"] == 7 and rows["invoices"] == 1000


def test_range_partitions_with_gaps_and_no_default_are_refused(tmp_path: Path, dbs) -> None:
    source = dbs(True)
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute("ALTER TABLE billing.ledger DETACH PARTITION billing.ledger_a")
        conn.execute(
            "ALTER TABLE billing.ledger ATTACH PARTITION billing.ledger_a "
            "FOR VALUES FROM (1) TO (400)"
        )
    done = seedgen("generate", "--from-database", source, "--out", str(tmp_path / "x"))
    assert done.returncode != 0
    assert "table billing.ledger, partition key id: the partitions' ranges have gaps" in done.stderr
    assert "DEFAULT partition" in done.stderr
    assert not (tmp_path / "x").exists()


MODELS = """
from sqlalchemy import BigInteger, Column, Enum, ForeignKey, Identity, MetaData, String, Table

metadata = MetaData()
Table("users", metadata, Column("id", BigInteger, Identity(), primary_key=True),
      Column("email", String(80), nullable=False, unique=True))
Table("users", metadata, Column("id", BigInteger, primary_key=True),
      Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
      Column("plan", Enum("free", "pro", name="plan", schema="crm"), nullable=False),
      schema="crm")
Table("notes", metadata, Column("id", BigInteger, primary_key=True),
      Column("crm_user_id", BigInteger, ForeignKey("crm.users.id"), nullable=False),
      schema="crm")
"""


def test_models_in_a_schema_load_with_create_schema(
    tmp_path: Path, dbs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--models``: a ``schema=`` table next to a ``public`` one of the same name."""
    (tmp_path / "crm_models.py").write_text(MODELS)
    monkeypatch.chdir(tmp_path)
    set_dir = make(tmp_path / "set", prepare(None, "crm_models:metadata", None))
    manifest = read_manifest(set_dir)
    assert {t.name: t.qualified for t in manifest.tables} == {
        "users": ("public", "users"),
        "crm.users": ("crm", "users"),
        "crm.notes": ("crm", "notes"),
    }
    url = dbs(False)
    ok("load", str(set_dir), "--database-url", url, "--create-schema")
    counts_match(set_dir, url)
    ok("verify", str(set_dir), "--database-url", url)
    orphans = "SELECT count(*) FROM crm.users c LEFT JOIN public.users u ON u.id = c.user_id "
    assert scalar(url, orphans + "WHERE u.id IS NULL") == 0
    assert scalar(url, "SELECT count(DISTINCT plan) FROM crm.users") == 2


@pytest.mark.parametrize(
    ("table", "column", "strategy", "message"),
    [
        ("shipments", "region", {"kind": "choice", "values": ["eu", "fr"]}, "'fr' is in no"),
        (
            "billing.ledger",
            "id",
            {"kind": "range", "min": 1, "max": 10**6, "unique": True},
            "is not within [1,",
        ),
    ],
)
def test_a_written_partition_key_outside_the_bounds_is_refused(
    tmp_path: Path, dbs, table: str, column: str, strategy: dict, message: str
) -> None:
    source = dbs(True)
    spec = tmp_path / "s.yaml"
    spec.write_text(
        yaml.safe_dump({"dataset": "x", "tables": {table: {"columns": {column: strategy}}}})
    )
    with pytest.raises(SpecError, match=f"table {table}, partition key {column}: ") as caught:
        prepare(spec, None, source)
    assert message in str(caught.value)
    assert "DEFAULT partition" in (caught.value.hint or "")


def test_a_range_key_of_text_is_refused_in_one_line(tmp_path: Path, make_db) -> None:
    """Bounds that read as numbers and as words ('1'..'a'..'z') are not ordered as either:
    the key's type is refused before its bounds are compared (it crashed comparing them)."""
    source = make_db(with_schema=False)
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute("CREATE TABLE codes (code text NOT NULL) PARTITION BY RANGE (code)")
        conn.execute("CREATE TABLE codes_a PARTITION OF codes FOR VALUES FROM ('1') TO ('a')")
        conn.execute("CREATE TABLE codes_b PARTITION OF codes FOR VALUES FROM ('a') TO ('z')")
    done = seedgen("generate", "--from-database", source, "--out", str(tmp_path / "x"))
    assert done.returncode != 0
    assert "table codes, partition key code: a RANGE key of type text is not supported" in (
        done.stderr
    ), done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "x").exists()
