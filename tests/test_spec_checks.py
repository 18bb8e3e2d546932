"""CHECK constraints met by construction: lengths (``length``/``char_length``), ordered column
pairs on numbers, dates and timestamps (strict and not, bounded), ranges, ``IN`` lists and
``IS NULL OR …`` — reflected, inferred, generated and loaded with every CHECK present; a CHECK
not understood or not met is one plan-time line naming it and its table."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import yaml

from generator.spec.checks import analyse
from generator.spec.dataset import prepare
from loader.load import LoadOptions, load_set
from seedgen.errors import SpecError
from tests.conftest import scalar
from tests.test_spec_infer import make

SCHEMA = """
CREATE TABLE p (id int PRIMARY KEY);
CREATE TABLE shapes (
  id int PRIMARY KEY,
  code varchar(12) NOT NULL CHECK (length(code) BETWEEN 4 AND 8),
  nick text CHECK (char_length(nick) >= 3),
  tag text NOT NULL CHECK (char_length(tag) <= 2),
  low int NOT NULL, high int NOT NULL, CHECK (low <= high),
  lo2 numeric(8,2), hi2 numeric(8,2), CHECK (lo2 < hi2 AND hi2 <= 500),
  f1 double precision NOT NULL, f2 double precision NOT NULL, CHECK (f2 > f1),
  starts date NOT NULL, ends date, CHECK (ends > starts),
  t1 timestamp NOT NULL, t2 timestamp NOT NULL, CHECK (t1 < t2),
  d1 date, d2 date NOT NULL, CHECK (d2 >= d1),
  qty int CHECK (qty IS NULL OR qty >= 1 AND qty <= 9),
  neg int NOT NULL CHECK (neg BETWEEN -10 AND -1),
  status text CHECK (status IN ('a', 'b')),
  k int NOT NULL CHECK (k >= 10), big int NOT NULL, CHECK (big >= k AND big < 2000),
  p_id int NOT NULL REFERENCES p, since int NOT NULL, CHECK (since <= p_id)
);
"""


def database(make_db, ddl: str) -> str:
    url = make_db(with_schema=False)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(ddl)
    return url


def test_check_shapes_are_met_by_construction(tmp_path: Path, make_db) -> None:
    source = database(make_db, SCHEMA)
    set_dir = make(tmp_path / "set", prepare(None, None, source), shard_rows=300)
    target = make_db(with_schema=False)
    load_set(set_dir, target, LoadOptions(create_schema=True), echo=lambda _m: None)
    assert scalar(target, "SELECT count(*) FROM shapes") == 1000
    checks = (
        "SELECT count(*) FROM pg_constraint WHERE contype = 'c' AND conrelid = 'shapes'::regclass"
    )
    assert scalar(target, checks) == scalar(source, checks) == 15
    # the strict pairs are met with room to spare, not by luck of a wide range
    assert scalar(target, "SELECT min(length(code)) FROM shapes") == 4
    assert scalar(target, "SELECT count(*) FROM shapes WHERE high = low") > 0


def test_length_and_pair_shapes_are_read() -> None:
    facts = analyse(
        [
            ("a", "length((code)::text) >= 2 AND length((code)::text) <= 8"),
            ("b", "char_length(t) BETWEEN 1 AND 3"),
            ("c", "lo < hi"),
            ("d", "length(a) <= b"),
            ("e", "starts > '2020-01-01'::date"),
            ("f", "qty >= '-1'::integer AND qty <= 8"),  # how PostgreSQL spells BETWEEN -1 AND 8
        ]
    )
    assert (facts.bounds["qty"].low, facts.bounds["qty"].high) == (-1, 8)
    assert (facts.lengths["code"].low, facts.lengths["code"].high) == (2, 8)
    assert (facts.lengths["t"].low, facts.lengths["t"].high) == (1, 3)
    assert facts.ordered == [("lo", "hi")] and facts.strict == {("lo", "hi")}
    assert [n for n, _ in facts.unsupported] == ["d", "e"]


@pytest.mark.parametrize(
    ("ddl", "columns", "message"),
    [
        ("a int, b int, CONSTRAINT sum_small CHECK (a + b < 100)", {}, "sum_small"),
        ("a int, CONSTRAINT either CHECK (a < 3 OR a > 7)", {}, "either"),
        (  # an override that no longer keeps the order
            "lo int NOT NULL, hi int NOT NULL, CONSTRAINT ordered CHECK (lo <= hi)",
            {"hi": {"kind": "range", "min": 0, "max": 9}},
            "ordered",
        ),
        (  # a strict pair of dates a second apart: the same day once written as a date
            "d1 date NOT NULL, d2 date NOT NULL, CONSTRAINT next_day CHECK (d1 < d2)",
            {"d2": {"kind": "after", "of": "d1", "min_seconds": 1}},
            "next_day",
        ),
        (  # an override whose values are longer than the CHECK allows
            "code text NOT NULL, CONSTRAINT short CHECK (length(code) <= 3)",
            {"code": {"kind": "faker", "provider": "word"}},
            "short",
        ),
    ],
)
def test_a_check_not_met_is_named_at_plan_time(
    tmp_path: Path, make_db, ddl: str, columns: dict, message: str
) -> None:
    url = database(make_db, f"CREATE TABLE t (id int PRIMARY KEY, {ddl})")
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"dataset": "t", "tables": {"t": {"columns": columns}}}))
    with pytest.raises(SpecError, match=f"table t: cannot satisfy CHECK {message} ") as exc:
        prepare(spec, None, url)
    assert "\n" not in str(exc.value) and "assume_checks" in str(exc.value.hint)
    spec.write_text(
        yaml.safe_dump(
            {"dataset": "t", "tables": {"t": {"columns": columns, "assume_checks": [message]}}}
        )
    )
    prepare(spec, None, url)  # the way out: the spec says its strategies meet it
