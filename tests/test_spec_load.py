"""A spec set, end to end: generate from examples/shop/shop.yaml, load it into PostgreSQL with
every constraint the spec declares (PK, UNIQUE, FK, NOT NULL, types), check what the spec
promises by SQL."""

from __future__ import annotations

from pathlib import Path

from generator.engine import Request, generate
from generator.spec.dataset import prepare
from loader.load import LoadOptions, load_set
from seedgen.manifest import read_manifest
from tests.conftest import ROOT, fetch, scalar

SHOP = ROOT / "examples" / "shop" / "shop.yaml"


def make_spec_set(out: Path, spec: Path = SHOP, **overrides: object) -> Path:
    req = Request("spec", None, dict(overrides), Path("env/.env-absent"), context=prepare(spec))
    generate(req, out, force=True, echo=lambda _m: None)
    return out


def test_shop_loads_with_every_constraint(tmp_path: Path, make_db) -> None:
    set_dir = make_spec_set(tmp_path / "shop")
    url = make_db(with_schema=False)
    load_set(set_dir, url, LoadOptions(create_schema=True), echo=lambda _m: None)
    manifest = read_manifest(set_dir)
    for table in manifest.tables:
        assert scalar(url, f"SELECT count(*) FROM {table.name}") == table.rows  # noqa: S608
    kinds = dict(
        fetch(
            url,
            "SELECT contype, count(*) FROM pg_constraint c JOIN pg_namespace n "
            "ON n.oid = c.connamespace WHERE n.nspname = 'public' GROUP BY contype",
        )
    )
    assert kinds == {"p": 4, "f": 3, "u": 1}
    # copied from the parent row, and dated after it
    assert (
        scalar(
            url,
            "SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id "
            "WHERE o.region <> c.region OR o.placed_at < c.signed_up "
            "OR o.placed_at > c.signed_up + interval '30 days'",
        )
        == 0
    )
    # the derived column, at numeric(12,2)
    assert scalar(url, "SELECT count(*) FROM order_lines WHERE total <> quantity * unit_price") == 0
    # exact quota: 1/10 gold, 3/10 silver, 6/10 bronze of 500
    assert dict(fetch(url, "SELECT tier, count(*) FROM customers GROUP BY tier")) == {
        "gold": 50,
        "silver": 150,
        "bronze": 300,
    }
    # children per parent: 1..8 lines per order (zipf), every order has its lines
    low, high = fetch(
        url, "SELECT min(n), max(n) FROM (SELECT count(*) n FROM order_lines GROUP BY order_id) x"
    )[0]
    assert low >= 1 and high <= 8
    assert scalar(url, "SELECT count(DISTINCT order_id) FROM order_lines") == scalar(
        url, "SELECT count(*) FROM orders"
    )
    assert scalar(url, "SELECT count(*) FROM customers WHERE birthday IS NULL") > 0
    # exploded: one row per item of each line's tags list, the same items
    assert scalar(url, "SELECT count(*) FROM order_line_tags") == scalar(
        url, "SELECT sum(jsonb_array_length(tags)) FROM order_lines"
    )
    assert (
        scalar(
            url,
            "SELECT count(*) FROM order_line_tags t JOIN order_lines l ON l.id = t.line_id "
            "WHERE NOT l.tags ? t.tag",
        )
        == 0
    )
    assert scalar(url, "SELECT count(*) FROM orders WHERE substr(id::text, 15, 1) <> '7'") == 0
