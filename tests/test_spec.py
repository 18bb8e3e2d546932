"""The spec layer: bad input is one line naming table/column and what to change, with nothing
written; same seed => same shards whatever the sharding; a new column or table leaves every
other column as it was; the published JSON Schema is current."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml

from generator.spec.model import json_schema
from tests.conftest import ROOT, seedgen
from tests.test_determinism import tables
from tests.test_spec_load import SHOP, make_spec_set

BASE = yaml.safe_load(SHOP.read_text())


def write_spec(path: Path, spec: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(spec))
    return path


def _edit(where: str, value: Any) -> dict[str, Any]:
    """The shop spec with ``value`` put at the dotted path ``where``."""
    spec = copy.deepcopy(BASE)
    *parents, last = where.split(".")
    node = spec
    for key in parents:
        node = node[key]
    node[last] = value
    return spec


def _rename(where: str, old: str, new: str) -> dict[str, Any]:
    spec = copy.deepcopy(BASE)
    node = spec
    for key in where.split("."):
        node = node[key]
    node[new] = node.pop(old)
    return spec


BAD = {
    "unknown key": (
        _rename("tables.customers", "columns", "colums"),
        "unknown key 'colums' at tables.customers.colums",
        "did you mean 'columns'?",
    ),
    "unknown kind": (
        _edit("tables.orders.columns.shipped", {"kind": "boolean"}),
        "unknown kind 'boolean' at tables.orders.columns.shipped",
        "did you mean 'bool'?",
    ),
    "missing table": (
        _edit("tables.orders.columns.customer_id", {"kind": "ref", "table": "custmers"}),
        "table orders, column customer_id: table 'custmers' is not in the spec",
        "did you mean 'customers'?",
    ),
    "missing column": (
        _edit(
            "tables.orders.columns.region",
            {"kind": "copy_from_parent", "ref": "customer_id", "column": "regoin"},
        ),
        "table orders, column region: column of table customers 'regoin' is not in its spec",
        "did you mean 'region'?",
    ),
    "infeasible unique": (
        _edit(
            "tables.customers.columns.region",
            {"kind": "choice", "values": ["n", "s"], "unique": True},
        ),
        "table customers, column region: unique needs 500 distinct values but the strategy has 2",
        "add 498 more values",
    ),
    "type mismatch": (
        _edit("tables.orders.columns.shipped", {"kind": "bool", "type": "integer"}),
        "table orders, column shipped: kind bool makes bool values, which do not fit type integer",
        "choose a kind",
    ),
    "dependency cycle": (
        _edit(
            "tables.order_lines.columns.quantity",
            {"kind": "expr", "expr": "total / unit_price", "type": "integer"},
        ),
        "columns depend on each other in a cycle: order_lines.",
        "break the cycle",
    ),
    "key range": (
        _edit(
            "tables.customers.columns.id", {"kind": "sequence", "start": 2**31 - 10, "type": "int4"}
        ),
        "table customers, column id: keys up to 2,147,484,137 exceed integer",
        "use a bigint column",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_spec_is_one_line_and_writes_nothing(tmp_path: Path, case: str) -> None:
    spec, message, hint = BAD[case]
    if case == "key range":  # the orders' FK column follows the parent's type
        spec["tables"]["orders"]["columns"]["customer_id"]["type"] = "integer"
    path = write_spec(tmp_path / "bad.yaml", spec)
    out = tmp_path / "out"
    result = seedgen("generate", "--spec", str(path), "--out", str(out))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("error: ") and message in lines[0], lines[0]
    assert lines[1].startswith("hint: ") and hint in lines[1], lines[1]
    assert not out.exists() and not Path(f"{out}.partial").exists()


def test_same_seed_same_shards_whatever_the_sharding(tmp_path: Path) -> None:
    one = tables(make_spec_set(tmp_path / "one", max_workers=1))
    many = tables(make_spec_set(tmp_path / "many", shard_rows=97, max_workers=2))
    assert one.keys() == many.keys()
    for name in one:
        assert one[name].equals(many[name]), name
    other = tables(make_spec_set(tmp_path / "seed7", seed=7))
    assert not other["customers"].equals(one["customers"])


def test_a_new_column_or_table_leaves_the_others_unchanged(tmp_path: Path) -> None:
    spec = copy.deepcopy(BASE)
    spec["tables"]["customers"]["columns"]["nickname"] = {"kind": "faker", "provider": "user_name"}
    spec["tables"]["customers"]["columns"] = {  # first in order, too
        "aaa": {"kind": "range", "min": 0, "max": 9, "type": "integer"},
        **spec["tables"]["customers"]["columns"],
    }
    spec["tables"] = {"audit": {"rows": 10, "columns": {"x": {"kind": "bool"}}}, **spec["tables"]}
    before = tables(make_spec_set(tmp_path / "before"))
    after = tables(make_spec_set(tmp_path / "after", write_spec(tmp_path / "more.yaml", spec)))
    for name, table in before.items():
        assert after[name].select(table.column_names).equals(table), name
    assert pa.compute.count_distinct(after["customers"]["nickname"]).as_py() > 1


def test_the_published_json_schema_is_current() -> None:
    published = json.loads((ROOT / "docs" / "spec.schema.json").read_text())
    assert published == json_schema(), "run: seedgen spec schema > docs/spec.schema.json"


def test_spec_schema_command_prints_it() -> None:
    result = seedgen("spec", "schema")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json_schema()


def test_refs_filtered_and_matched(tmp_path: Path) -> None:
    """where: only gold customers; match: a coupon of the order's own region."""
    from generator.spec.dataset import SpecDataset, prepare
    from seedgen.settings import GenerateSettings

    spec = copy.deepcopy(BASE)
    cols = spec["tables"]["orders"]["columns"]
    cols["gift_from"] = {"kind": "ref", "table": "customers", "where": {"tier": "gold"}}
    spec["tables"]["coupons"] = {
        "rows": 40,
        "primary_key": ["id"],
        "columns": {
            "id": {"kind": "sequence"},
            "region": {"kind": "choice", "values": ["north", "south", "east", "west"]},
        },
    }
    cols["coupon"] = {"kind": "ref", "table": "coupons", "match": {"region": "region"}}
    dataset = SpecDataset(GenerateSettings(), prepare(write_spec(tmp_path / "s.yaml", spec)))
    customers = pa.table(dataset.build("customers", 0, 500)).to_pylist()
    coupons = pa.table(dataset.build("coupons", 0, 40)).to_pylist()
    orders = pa.table(dataset.build("orders", 0, dataset.gen.rows["orders"])).to_pylist()
    tier = {c["id"]: c["tier"] for c in customers}
    coupon_region = {c["id"]: c["region"] for c in coupons}
    assert {tier[o["gift_from"]] for o in orders} == {"gold"}
    assert all(coupon_region[o["coupon"]] == o["region"] for o in orders)
    assert len({o["gift_from"] for o in orders}) > 10
