"""Real schemas with no spec: retail's reference schema (every CHECK, the unique daily grains,
calendar's date key) reflected with --from-database, generated and loaded with every constraint
present; zbugs' overlapping composite FKs refused at plan time with what to change."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import yaml

from generator.spec.checks import analyse
from generator.spec.dataset import prepare
from loader.load import LoadOptions, load_set
from seedgen.errors import SpecError
from seedgen.manifest import read_manifest
from tests.conftest import fetch, scalar
from tests.test_determinism import tables
from tests.test_spec_infer import make

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
SHARED = REFERENCE if REFERENCE.is_dir() else Path("/work/shared/reference")


def schema_db(make_db, name: str) -> str:
    url = make_db(with_schema=False)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute((SHARED / name / "schema.sql").read_text())
    return url


def test_retail_from_database_loads_with_every_constraint(tmp_path: Path, make_db) -> None:
    source = schema_db(make_db, "retail")
    set_dir = make(tmp_path / "retail", prepare(None, None, source), shard_rows=300)
    target = schema_db(make_db, "retail")
    kinds = (
        "SELECT contype::text, count(*) FROM pg_constraint c JOIN pg_namespace n "
        "ON n.oid = c.connamespace WHERE n.nspname = 'public' GROUP BY 1 ORDER BY 1"
    )
    before = fetch(target, kinds)
    load_set(set_dir, target, LoadOptions(), echo=lambda _m: None)
    for table in read_manifest(set_dir).tables:
        assert scalar(target, f"SELECT count(*) FROM {table.name}") == table.rows  # noqa: S608
    assert fetch(target, kinds) == before
    assert dict(before)["c"] >= 13 and dict(before)["f"] == 10 and dict(before)["u"] == 2
    assert scalar(target, "SELECT count(*) FROM promotion WHERE end_date > start_date") > 0
    assert scalar(target, "SELECT max(month) - min(month) FROM calendar") > 0


def test_zbugs_from_database_loads_with_overlapping_composite_fks(tmp_path: Path, make_db) -> None:
    """issueLabel's (labelID, projectID) -> label and (issueID, projectID) -> issue: the label
    is chosen among the labels of the issue's project, distinct per issue."""
    source = schema_db(make_db, "zbugs")
    context = prepare(None, None, source)
    set_dir = make(tmp_path / "zbugs", context)
    target = schema_db(make_db, "zbugs")
    kinds = (
        "SELECT contype::text, count(*) FROM pg_constraint c JOIN pg_namespace n "
        "ON n.oid = c.connamespace WHERE n.nspname = 'public' GROUP BY 1 ORDER BY 1"
    )
    before = fetch(target, kinds)
    load_set(set_dir, target, LoadOptions(), echo=lambda _m: None)
    assert fetch(target, kinds) == before and dict(before)["f"] == 14
    for table in read_manifest(set_dir).tables:
        assert scalar(target, f'SELECT count(*) FROM "{table.name}"') == table.rows  # noqa: S608
    assert scalar(target, 'SELECT count(*) FROM "issueLabel"') > scalar(
        target, 'SELECT count(DISTINCT "issueID") FROM "issueLabel"'
    )
    assert scalar(target, 'SELECT min("shortID") FROM issue') == 3000  # the identity filled it
    again = tables(make(tmp_path / "again", context, shard_rows=101, max_workers=2))
    for name, table in tables(set_dir).items():
        assert again[name].equals(table), name


def test_overlapping_fks_without_a_match_are_refused_by_name(tmp_path: Path, make_db) -> None:
    source = schema_db(make_db, "zbugs")
    spec = tmp_path / "s.yaml"
    label = {"kind": "ref", "table": "label", "column": "id"}
    spec.write_text(
        yaml.safe_dump({"dataset": "z", "tables": {"issueLabel": {"columns": {"labelID": label}}}})
    )
    with pytest.raises(SpecError, match=r"table issueLabel: foreign key \(labelID, projectID\)"):
        prepare(spec, None, source)


def test_an_unsupported_check_is_refused_unless_assumed(tmp_path: Path, make_db) -> None:
    url = make_db(with_schema=False)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL, "
            "CONSTRAINT no_digits CHECK (name !~ '[0-9]'))"  # a regex: no shape seedgen reads
        )
    with pytest.raises(SpecError, match=r"table t: cannot satisfy CHECK no_digits \(name !~"):
        prepare(None, None, url)
    spec = tmp_path / "s.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "dataset": "t",
                "tables": {
                    "t": {
                        "assume_checks": ["no_digits"],
                        "columns": {"name": {"kind": "faker", "provider": "first_name"}},
                    }
                },
            }
        )
    )
    set_dir = make(tmp_path / "t", prepare(spec, None, url))
    load_set(set_dir, url, LoadOptions(), echo=lambda _m: None)
    assert scalar(url, "SELECT count(*) FROM t") == 1000


def test_check_shapes() -> None:
    facts = analyse(
        [
            ("a", "q >= 1 AND q <= 4"),
            ("b", "d IS NULL OR d >= 0::numeric AND d <= 1::numeric"),
            ("c", "valid_to IS NULL OR valid_to >= valid_from"),
            ("d", "status = ANY (ARRAY['a'::text, 'b'::text])"),
            ("e", "x BETWEEN 2 AND 9"),
            ("f", "p > 0"),
            ("g", "q < 3 OR q > 7"),
            # pg_get_constraintdef of `tier IN ('gold', 'silver')` on a varchar column
            ("h", "(tier)::text = ANY ((ARRAY['gold'::varchar, 'silver'::varchar])::text[])"),
        ]
    )
    assert (facts.bounds["q"].low, facts.bounds["q"].high) == (1, 4)
    assert (facts.bounds["d"].low, facts.bounds["d"].high) == (0, 1)
    assert facts.ordered == [("valid_from", "valid_to")]
    assert facts.choices == {"status": ["a", "b"], "tier": ["gold", "silver"]}
    assert (facts.bounds["x"].low, facts.bounds["x"].high) == (2, 9)
    assert facts.bounds["p"].low_strict
    assert facts.unsupported == [("g", "q < 3 OR q > 7")]
