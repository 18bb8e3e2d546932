"""Zero spec: inference from SQLAlchemy models and from a live database, then load with every
constraint present (PK, UNIQUE, composite FK, NOT NULL, enum, array, numeric(p,s)); a partial
spec overrides only what it names."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import yaml

from generator.engine import Request, generate
from generator.spec.dataset import prepare
from loader.load import LoadOptions, load_set
from seedgen.errors import SpecError
from seedgen.manifest import read_manifest
from tests.conftest import fetch, scalar, seedgen
from tests.test_determinism import tables

MODELS = "tests.fixtures.spec_models:Base"


def make(out: Path, context: dict, **overrides: object) -> Path:
    req = Request("spec", None, dict(overrides), Path("env/.env-absent"), context=context)
    generate(req, out, force=True, echo=lambda _m: None)
    return out


def constraints(url: str) -> dict[str, int]:
    return dict(
        fetch(
            url,
            "SELECT contype::text, count(*) FROM pg_constraint c JOIN pg_namespace n "
            "ON n.oid = c.connamespace WHERE n.nspname = 'public' GROUP BY contype",
        )
    )


def check_loaded(set_dir: Path, url: str) -> None:
    for table in read_manifest(set_dir).tables:
        assert scalar(url, f"SELECT count(*) FROM {table.name}") == table.rows  # noqa: S608
    assert constraints(url) == {"p": 3, "u": 2, "f": 3}
    assert (
        scalar(
            url,
            "SELECT count(*) FROM task t JOIN project p ON p.id = t.project_id "
            "WHERE p.account_id <> t.account_id",
        )
        == 0
    )
    assert scalar(url, "SELECT count(*) FROM account WHERE updated_at < created_at") == 0
    assert scalar(url, "SELECT count(DISTINCT plan) FROM account") == 3


def test_models_infer_generate_and_load(tmp_path: Path, make_db) -> None:
    set_dir = make(tmp_path / "set", prepare(None, MODELS))
    url = make_db(with_schema=False)
    load_set(set_dir, url, LoadOptions(create_schema=True), echo=lambda _m: None)
    check_loaded(set_dir, url)
    assert scalar(url, "SELECT bool_and(active) FROM account")  # the server default filled it


def test_from_database_infers_the_same_schema(tmp_path: Path, make_db) -> None:
    source = make_db(with_schema=False)
    context = prepare(None, MODELS)
    with psycopg.connect(source, autocommit=True) as conn:
        for ddl in context["ddl"]:
            for statement in ddl["statements"]:
                conn.execute(statement)
    set_dir = make(tmp_path / "db", prepare(None, None, source))
    target = make_db(with_schema=False)
    with psycopg.connect(target, autocommit=True) as conn:
        for ddl in context["ddl"]:
            for statement in ddl["statements"]:
                conn.execute(statement)
    load_set(set_dir, target, LoadOptions(), echo=lambda _m: None)
    check_loaded(set_dir, target)
    one, many = (
        tables(set_dir),
        tables(make(tmp_path / "many", prepare(None, None, source), shard_rows=77)),
    )
    for name in one:
        assert one[name].equals(many[name]), name


def test_partial_spec_overrides_only_what_it_names(tmp_path: Path) -> None:
    spec = {
        "dataset": "accounts",
        "models": MODELS,
        "tables": {
            "account": {
                "rows": 100,
                "columns": {
                    "first_name": {"kind": "const", "value": "Ada"},
                    "balance": {"kind": "range", "min": 1, "max": 2, "scale": 2},
                },
            }
        },
    }
    path = tmp_path / "partial.yaml"
    path.write_text(yaml.safe_dump(spec))
    inferred = tables(make(tmp_path / "inferred", prepare(None, MODELS)))
    partial = tables(make(tmp_path / "partial", prepare(path)))
    assert set(partial["account"]["first_name"].to_pylist()) == {"Ada"}
    assert all(1 <= float(v) <= 2 for v in partial["account"]["balance"].to_pylist())
    others = [c for c in inferred["account"].column_names if c not in ("first_name", "balance")]
    assert partial["account"].select(others).equals(inferred["account"].select(others))
    assert partial["task"].equals(inferred["task"])


def test_not_null_without_a_strategy_is_refused(tmp_path: Path) -> None:
    spec = {
        "dataset": "a",
        "models": MODELS,
        "tables": {"account": {"columns": {"first_name": {"kind": "default"}}}},
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(SpecError, match="table account, column first_name: NOT NULL with no"):
        prepare(path)


def test_composite_key_not_unique_by_construction_is_refused(tmp_path: Path) -> None:
    spec = {
        "dataset": "a",
        "models": MODELS,
        "tables": {"project": {"columns": {"id": {"kind": "const", "value": None}}}},
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(SpecError, match=r"table project: primary key \(id\) is not unique"):
        prepare(path)


def test_inferred_spec_round_trips_through_the_cli(tmp_path: Path) -> None:
    """`seedgen spec infer` writes a spec that, used as it is, makes the same set as none."""
    inferred = seedgen("spec", "infer", "--models", MODELS)
    assert inferred.returncode == 0, inferred.stderr
    spec = yaml.safe_load(inferred.stdout)
    spec["models"] = MODELS
    path = tmp_path / "inferred.yaml"
    path.write_text(yaml.safe_dump(spec))
    none = seedgen("generate", "--models", MODELS, "--out", str(tmp_path / "none"), "--seed", "3")
    assert none.returncode == 0, none.stderr
    edited = seedgen(
        "generate", "--spec", str(path), "--out", str(tmp_path / "spec"), "--seed", "3"
    )
    assert edited.returncode == 0, edited.stderr
    a, b = tables(tmp_path / "none"), tables(tmp_path / "spec")
    assert a.keys() == b.keys() == {"account", "project", "task"}
    for name in a:
        assert a[name].equals(b[name]), name
