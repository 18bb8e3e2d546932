"""FK cycles and forests in the spec layer: a cycle (written, from models with ``use_alter``,
reflected) generates, its schema is created with the closing FKs added once both tables exist,
and it loads with every FK valid; a cycle of *values* is a plan-time error; ``--append`` refuses
a cycle before anything is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

import loader.load
from generator.spec.dataset import prepare
from loader.load import LoadOptions, load_set
from seedgen.errors import LoadError, SchemaMismatchError, SpecError
from seedgen.manifest import read_manifest
from tests.conftest import fetch, scalar
from tests.test_load_failures import quiet
from tests.test_spec_infer import make

MODELS = "tests.fixtures.graph_models:Base"
SEQ = {"kind": "sequence"}


def ref(table: str, **kw: Any) -> dict[str, Any]:
    return {"kind": "ref", "table": table, **kw}


CYCLES: dict[str, Any] = {
    "dataset": "cycles",
    "tables": {
        "a": {"rows": 30, "primary_key": ["id"], "columns": {"id": SEQ, "b_id": ref("b")}},
        "b": {
            "rows": 20,
            "primary_key": ["id"],
            "columns": {"id": SEQ, "a_id": {"kind": "nullable", "of": ref("a")}},
        },
        "c": {
            "rows": 10,
            "primary_key": ["id"],
            "columns": {"id": {"kind": "uuid"}, "d_id": ref("d")},
        },
        "d": {"rows": 10, "primary_key": ["id"], "columns": {"id": SEQ, "e_id": ref("e")}},
        "e": {  # sized by a, inside the cycle c -> d -> e -> c
            "per_parent": {"table": "a", "count": {"kind": "uniform", "min": 0, "max": 2}},
            "primary_key": ["id"],
            "columns": {"id": SEQ, "a_id": ref("a"), "c_id": ref("c")},
        },
    },
}


def spec_context(tmp: Path, spec: dict[str, Any]) -> dict[str, Any]:
    path = tmp / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return prepare(path)


def foreign_keys(url: str) -> list[tuple[str, bool]]:
    return fetch(
        url,
        "SELECT conrelid::regclass::text, convalidated FROM pg_constraint c "
        "JOIN pg_namespace n ON n.oid = c.connamespace "
        "WHERE contype = 'f' AND n.nspname = 'public' ORDER BY 1, conname",
    )


def loaded(tmp: Path, context: dict[str, Any], url: str) -> Path:
    set_dir = make(tmp / "set", context, shard_rows=7)
    load_set(set_dir, url, LoadOptions(create_schema=True), echo=quiet)
    for table in read_manifest(set_dir).tables:
        assert scalar(url, f'SELECT count(*) FROM "{table.name}"') == table.rows  # noqa: S608
    return set_dir


def test_a_written_cycle_creates_its_schema_and_loads_with_every_fk(
    tmp_path: Path, make_db
) -> None:
    context = spec_context(tmp_path, CYCLES)
    alters = [s for d in context["ddl"] for s in d["statements"] if s.startswith("ALTER TABLE")]
    assert any("REFERENCES b" in s for s in alters) or any("REFERENCES a" in s for s in alters)
    url = make_db(with_schema=False)
    loaded(tmp_path, context, url)
    fks = foreign_keys(url)
    assert sorted(t for t, _ in fks) == ["a", "b", "c", "d", "e", "e"]
    assert all(valid for _, valid in fks)
    assert scalar(url, "SELECT count(*) FROM b WHERE a_id IS NULL") > 0  # the nullable side
    assert scalar(url, "SELECT count(*) FROM a JOIN b ON b.id = a.b_id") == 30


def test_cycles_from_models_and_from_the_database_load(tmp_path: Path, make_db) -> None:
    context = prepare(None, MODELS)
    url = make_db(with_schema=False)
    loaded(tmp_path / "models", context, url)
    fks = foreign_keys(url)
    assert len(fks) == 6 and all(valid for _, valid in fks)
    target = make_db(with_schema=False)
    loaded(tmp_path / "db", prepare(None, None, url), target)  # reflected: no use_alter there
    assert foreign_keys(target) == fks


def test_a_cycle_of_values_is_refused_at_plan_time(tmp_path: Path) -> None:
    spec = yaml.safe_load(yaml.safe_dump(CYCLES))
    spec["tables"]["a"]["columns"]["x"] = {"kind": "copy_from_parent", "ref": "b_id", "column": "y"}
    spec["tables"]["b"]["columns"]["y"] = {"kind": "copy_from_parent", "ref": "a_id", "column": "x"}
    with pytest.raises(SpecError, match=r"columns depend on each other in a cycle: .*a\.x") as exc:
        spec_context(tmp_path, spec)
    assert "\n" not in str(exc.value)


def test_append_refuses_a_cycle_before_anything_is_written(tmp_path: Path, make_db) -> None:
    url = make_db(with_schema=False)
    loaded(tmp_path, spec_context(tmp_path, CYCLES), url)
    more = make(tmp_path / "more", spec_context(tmp_path, CYCLES), key_offset=1000, seed=7)
    before = state(url)
    with pytest.raises(SchemaMismatchError, match=r"foreign-key cycle (a -> b -> a|b -> a -> b)"):
        load_set(more, url, LoadOptions(append=True), echo=quiet)
    assert state(url) == before


def state(url: str) -> tuple[Any, ...]:
    counts = [scalar(url, f"SELECT count(*) FROM {t}") for t in "abcde"]  # noqa: S608
    work = "SELECT count(*) FROM pg_tables WHERE schemaname = 'seedgen'"
    return (
        counts,
        foreign_keys(url),
        scalar(url, "SELECT count(*) FROM seedgen.loads"),
        scalar(url, work),
    )


FOREST_DDL = """
CREATE TABLE node (
  id int PRIMARY KEY,
  up_id int REFERENCES node,
  CONSTRAINT not_self CHECK (up_id <> id)
);
CREATE TABLE loop (id bigint PRIMARY KEY, up_id bigint NOT NULL REFERENCES loop);
"""
DEPTH = """
WITH RECURSIVE walk(id, depth) AS (
  SELECT id, 0 FROM {t} WHERE up_id IS NULL OR up_id = id
  UNION ALL SELECT c.id, w.depth + 1 FROM {t} c JOIN walk w ON c.up_id = w.id AND c.id <> w.id
) SELECT count(*), max(depth) FROM walk
"""


@pytest.mark.parametrize(
    ("forest", "roots", "depth"),
    [
        (None, 1, None),  # the default: one root, every other row under an earlier one
        ({"roots": 0.05}, 20, None),
        ({"max_depth": 3, "branching": 3}, 10, 3),  # 400 / (1 + 3 + 9 + 27) = 10 roots
        ({"max_depth": 2, "roots": 0.01}, 4, 2),
    ],
)
def test_forests_have_null_roots_and_a_bounded_depth(
    tmp_path: Path, make_db, forest: dict | None, roots: int, depth: int | None
) -> None:
    source = make_db(with_schema=False)
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(FOREST_DDL)
    up = ref("node", **({"forest": forest} if forest else {}))
    loop = ref("loop", **({"forest": forest} if forest else {}))
    spec = {
        "dataset": "forest",
        "tables": {
            "node": {
                "rows": 400,
                "columns": {"up_id": {"kind": "nullable", "share": 0, "of": up}},
                "assume_checks": ["not_self"],  # roots are NULL, every other row is under another
            },
            "loop": {"rows": 400, "columns": {"up_id": loop}},
        },
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    url = make_db(with_schema=False)
    loaded(tmp_path, prepare(path, None, source), url)
    assert scalar(url, "SELECT count(*) FROM node WHERE up_id IS NULL") == roots
    assert scalar(url, "SELECT count(*) FROM loop WHERE up_id = id") == roots  # NOT NULL: itself
    for table in ("node", "loop"):
        reached, deepest = fetch(url, DEPTH.format(t=table))[0]
        assert reached == 400  # every row hangs from a root: no cycle but the roots' own loop
        if depth is not None:
            assert deepest == depth


def test_forest_is_for_self_references_only(tmp_path: Path) -> None:
    spec = yaml.safe_load(yaml.safe_dump(CYCLES))
    spec["tables"]["a"]["columns"]["b_id"] = ref("b", forest={"max_depth": 2})
    with pytest.raises(SpecError, match="table a, column b_id: forest on a ref to b"):
        spec_context(tmp_path, spec)


def test_a_failed_load_of_a_cycle_is_undone_with_every_fk_back(
    tmp_path: Path, make_db, monkeypatch
) -> None:
    """A load adds keys while other tables still build, so an undo may meet a cycle of keys
    (a <-> b here), which refuses every order of deletes: it drops them first, deletes, and adds
    them back. Before, the undo failed too ("undoing it failed too") and so did repair."""
    url = make_db(with_schema=False)
    set_dir = make(tmp_path / "set", spec_context(tmp_path, CYCLES), shard_rows=7)
    real, calls = loader.load.restore, []

    def failing(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        if len(calls) == 1:  # the load's restore (every key is back by then); not the undo's
            raise LoadError("restore failed on purpose")
        return real(*args, **kwargs)

    monkeypatch.setattr(loader.load, "restore", failing)
    with pytest.raises(LoadError, match="rolled back, the database is as it was"):
        load_set(set_dir, url, LoadOptions(create_schema=True), echo=quiet)
    assert scalar(url, "SELECT status FROM seedgen.loads") == "rolled_back"
    for table in read_manifest(set_dir).tables:
        assert scalar(url, f'SELECT count(*) FROM "{table.name}"') == 0  # noqa: S608
    fks = foreign_keys(url)
    assert sorted(t for t, _ in fks) == ["a", "b", "c", "d", "e", "e"]
    assert all(valid for _, valid in fks)
    monkeypatch.undo()
    load_set(set_dir, url, echo=quiet)  # and the same command again loads it
    assert scalar(url, "SELECT count(*) FROM a JOIN b ON b.id = a.b_id") == 30
