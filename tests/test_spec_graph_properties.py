"""Property tests over random schemas with FK cycles (two tables and longer, nullable and NOT
NULL sides), self-references shaped as forests (roots, max depth, branching) and CHECKs of every
shape seedgen meets by construction (ranges, ``IN`` lists, ``length``/``char_length`` bounds,
ordered pairs of numbers, dates and timestamps, ``IS NULL OR …``): built in a database,
reflected with no spec but row counts and forest options, generated, and loaded with
``--create-schema`` into another database with every constraint present and validated — a
violation fails the load — and the manifest's exact counts.

CI runs a handful of examples; ``SEEDGEN_SPEC_EXAMPLES=200`` runs a deep sweep."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from generator.spec.dataset import prepare
from loader.load import LoadOptions, load_set
from seedgen.manifest import read_manifest
from tests.conftest import fetch, scalar
from tests.test_spec_infer import make
from tests.test_spec_properties import DEEP

NUMBERS = ["smallint", "integer", "bigint", "numeric(8,2)", "double precision"]
TIMES = ["date", "timestamp", "timestamptz"]
PAIRS = ["<=", "<", ">=", ">"]
CONSTRAINTS = (
    "SELECT contype::text, count(*), bool_and(convalidated) FROM pg_constraint c "
    "JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public' GROUP BY 1"
)


def _null(draw: hs.DrawFn) -> str:
    return "" if draw(hs.booleans()) else " NOT NULL"


def _guarded(draw: hs.DrawFn, column: str, nullable: bool, check: str) -> str:
    """``col IS NULL OR check`` on some nullable columns (NULL passes a CHECK anyway)."""
    return f"{column} IS NULL OR {check}" if nullable and draw(hs.booleans()) else check


@hs.composite
def checked_columns(draw: hs.DrawFn, t: str) -> tuple[list[str], list[str]]:
    cols: list[str] = []
    checks: list[str] = []
    if draw(hs.booleans()):  # an ordered pair of numbers, maybe bounded
        kind, op, null = draw(hs.sampled_from(NUMBERS)), draw(hs.sampled_from(PAIRS)), _null(draw)
        cols += [f"lo {kind}{null}", f"hi {kind}{_null(draw)}"]
        pair = f"lo {op} hi" if op in ("<=", "<") else f"hi {op} lo"
        if draw(hs.booleans()):
            pair += f" AND hi <= {draw(hs.integers(200, 900))}"
        checks.append(_guarded(draw, "lo", not null, pair))
    if draw(hs.booleans()):  # an ordered pair of dates or timestamps
        kind, op = draw(hs.sampled_from(TIMES)), draw(hs.sampled_from(PAIRS))
        cols += [f"starts {kind}{_null(draw)}", f"ends {kind}{_null(draw)}"]
        checks.append(f"starts {op} ends" if op in ("<=", "<") else f"ends {op} starts")
    if draw(hs.booleans()):  # a length range
        low = draw(hs.integers(0, 6))
        high = draw(hs.integers(max(low, 1), 12))
        kind = draw(hs.sampled_from(["text", f"varchar({high + draw(hs.integers(0, 5))})"]))
        null = _null(draw)
        fn = draw(hs.sampled_from(["length", "char_length"]))
        shape = draw(hs.sampled_from(["between", "low", "high", "both"]))
        check = {
            "between": f"{fn}(label) BETWEEN {low} AND {high}",
            "low": f"{fn}(label) >= {low}",
            "high": f"{fn}(label) <= {high}",
            "both": f"{fn}(label) > {low - 1} AND {fn}(label) < {high + 1}",
        }[shape]
        cols.append(f"label {kind}{null}")
        checks.append(_guarded(draw, "label", not null, check))
    if draw(hs.booleans()):  # a range and an IN list
        low = draw(hs.integers(-50, 50))
        null = _null(draw)
        cols += [f"qty integer{null}", f"status text{_null(draw)}"]
        checks.append(_guarded(draw, "qty", not null, f"qty BETWEEN {low} AND {low + 9}"))
        checks.append("status IN ('new', 'open', 'done')")
    return cols, [f"CONSTRAINT {t}_c{n} CHECK ({c})" for n, c in enumerate(checks)]


@hs.composite
def schemas(draw: hs.DrawFn) -> tuple[str, dict[str, Any]]:
    """DDL of 2-4 tables whose FKs may form cycles, and the spec: row counts and forests."""
    n = draw(hs.integers(2, 4))
    names = [f"t{i}" for i in range(n)]
    creates, alters, tables = [], [], {}
    cycle = draw(hs.integers(2, n))  # t0 -> t1 -> ... -> t{cycle-1} -> t0
    for i, t in enumerate(names):
        key = draw(hs.sampled_from(["integer", "bigint", "uuid"]))
        cols, checks = draw(checked_columns(t))
        refs = [names[(i + 1) % cycle]] if i < cycle else []
        refs += [p for p in names if p != t and p not in refs and draw(hs.integers(0, 3)) == 0]
        for p in refs:
            cols.append(f"{p}_id {{{p}}}{_null(draw)}")
            alters.append(f"ALTER TABLE {t} ADD FOREIGN KEY ({p}_id) REFERENCES {p}")
        spec: dict[str, Any] = {"rows": draw(hs.integers(1, 40))}
        if draw(hs.booleans()):  # a forest
            null = _null(draw)
            cols.append(f"up_id {{{t}}}{null}")
            alters.append(f"ALTER TABLE {t} ADD FOREIGN KEY (up_id) REFERENCES {t}")
            forest = draw(
                hs.fixed_dictionaries(
                    {},
                    optional={
                        "roots": hs.sampled_from([0.01, 0.1, 0.5, 1.0]),
                        "max_depth": hs.integers(0, 4),
                        "branching": hs.sampled_from([1.0, 1.5, 3.0]),
                    },
                )
            )
            up = {"kind": "ref", "table": t, "forest": forest}
            spec["columns"] = {"up_id": {"kind": "nullable", "of": up} if not null else up}
        tables[t] = spec
        creates.append((t, key, cols, checks))
    keys = {t: key for t, key, _, _ in creates}
    ddl = [
        f"CREATE TABLE {t} (id {key} PRIMARY KEY, "
        + ", ".join([*(c.format(**keys) for c in cols), *checks]).rstrip(", ")
        + ")"
        for t, key, cols, checks in creates
    ]
    return ";\n".join([*(d.replace(", )", ")") for d in ddl), *alters]), tables


@settings(
    max_examples=DEEP or 6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(schema=schemas())
def test_cycles_forests_and_checks_load_with_every_constraint(
    tmp_path: Path, make_db, schema: tuple[str, dict[str, Any]]
) -> None:
    ddl, tables = schema
    source = make_db(with_schema=False)
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(ddl)
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"dataset": "graph", "tables": tables}))
    set_dir = make(tmp_path / "set", prepare(spec, None, source), shard_rows=13)
    target = make_db(with_schema=False)
    load_set(set_dir, target, LoadOptions(create_schema=True), echo=lambda _m: None)
    for table in read_manifest(set_dir).tables:
        assert table.rows == tables[table.name]["rows"]
        assert scalar(target, f"SELECT count(*) FROM {table.name}") == table.rows  # noqa: S608
    assert sorted(fetch(target, CONSTRAINTS)) == sorted(fetch(source, CONSTRAINTS))
    assert all(valid for _, _, valid in fetch(target, CONSTRAINTS))
