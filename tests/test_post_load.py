"""Post-load steps (``loader.post_load``): derived data equals SQL over the loaded rows.

A spec set declares three steps: empty a stats table, fill it by ``INSERT … SELECT`` over the
set's rows, and refresh a materialized view (``--create-schema`` makes no views: each test
builds the schema from the set's checked DDL, then the view, the way an app's migrations would).
Every test runs the real CLI against real PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from generator.engine import Request, generate
from generator.spec.dataset import prepare
from loader import ddl, post_load
from seedgen.errors import ManifestError
from seedgen.manifest import read_manifest, set_identity
from tests import faultkit
from tests.conftest import fetch, scalar

SPEC = """
dataset: regions
tables:
  customers:
    rows: {customers}
    primary_key: [id]
    columns:
      id: {{kind: sequence}}
      region:
        {{kind: choice, values: [north, south, east, west], weights: [4, 3, 2, 1], type: text}}
  orders:
    per_parent: {{table: customers, count: {{kind: poisson, mean: 3}}}}
    primary_key: [id]
    columns:
      id: {{kind: sequence}}
      customer_id: {{kind: ref, table: customers}}
  region_stats:
    rows: 0
    primary_key: [region]
    columns:
      region: {{kind: nanoid, type: text}}
      orders: {{kind: range, min: 0, max: 1, type: bigint}}
post_load:
  - DELETE FROM region_stats
  - >-
    INSERT INTO region_stats (region, orders) SELECT c.region, count(*)
    FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY c.region
  - REFRESH MATERIALIZED VIEW CONCURRENTLY customer_orders
"""
VIEW = (
    "CREATE MATERIALIZED VIEW customer_orders AS "
    "SELECT customer_id, count(*) AS n FROM orders GROUP BY 1"
)
VIEW_KEY = "CREATE UNIQUE INDEX customer_orders_key ON customer_orders (customer_id)"
STATS = (
    "SELECT c.region, count(*) FROM orders o JOIN customers c ON c.id = o.customer_id "
    "GROUP BY 1 ORDER BY 1"
)
PER_CUSTOMER = "SELECT customer_id, count(*) FROM orders GROUP BY 1 ORDER BY 1"


def make_spec_set(out: Path, customers: int = 300, **overrides: object) -> Path:
    spec = out.parent / f"{out.name}.yaml"
    spec.write_text(SPEC.format(customers=customers))
    req = Request("spec", None, dict(overrides), Path("env/.env-absent"), context=prepare(spec))
    generate(req, out, force=True, echo=lambda _m: None)
    return out


@pytest.fixture(scope="module")
def spec_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_spec_set(tmp_path_factory.mktemp("post-load") / "regions")


@pytest.fixture
def app_db(make_db: Callable[..., str], spec_set: Path) -> Callable[..., str]:
    """An empty database with the set's tables and the view, as the app's migrations make them."""

    def make(unique_key: bool = True) -> str:
        url = make_db(with_schema=False)
        schema = ddl.check(read_manifest(spec_set))
        with psycopg.connect(url) as conn:
            for statements in schema.tables.values():
                for statement in statements:
                    conn.execute(statement)  # type: ignore[call-overload]
            conn.execute(VIEW)  # type: ignore[call-overload]
            if unique_key:  # REFRESH … CONCURRENTLY needs one
                conn.execute(VIEW_KEY)  # type: ignore[call-overload]
        return url

    return make


def load(set_dir: Path, url: str, *extra: str, env: dict[str, str] | None = None) -> faultkit.Run:
    return faultkit.run(["load", str(set_dir), "--database-url", url, *extra], env)


def assert_derived(url: str) -> None:
    assert fetch(url, "SELECT region, orders FROM region_stats ORDER BY 1") == fetch(url, STATS)
    assert fetch(url, "SELECT customer_id, n FROM customer_orders ORDER BY 1") == fetch(
        url, PER_CUSTOMER
    )


def ran_at(url: str) -> list[tuple]:
    return fetch(url, "SELECT step, ran_at FROM seedgen.post_load_steps ORDER BY step")


def test_steps_make_derived_data_equal_sql_over_the_rows(spec_set: Path, app_db) -> None:
    url = app_db()
    result = load(spec_set, url)
    assert result.returncode == 0, result.text
    assert fetch(url, "SELECT count(*) FROM region_stats")[0][0] == 4  # all four regions
    assert_derived(url)
    assert "post-load step 3 (REFRESH MATERIALIZED VIEW public.customer_orders)" in result.text
    assert [s for s, _ in ran_at(url)] == [1, 2, 3]
    verify = faultkit.run(["verify", str(spec_set), "--database-url", url])
    assert verify.returncode == 0, verify.text


def test_log_json_reports_the_phase(spec_set: Path, app_db) -> None:
    import json

    url = app_db()
    result = faultkit.run(["--log-json", "load", str(spec_set), "--database-url", url])
    assert result.returncode == 0, result.text
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    summary = next(e for e in events if e.get("kind") == "load")
    assert "post_load" in summary["timings"]
    steps = summary["post_load"]
    assert [(s["step"], s["kind"], s["relations"]) for s in steps] == [
        (1, "DELETE", "public.region_stats"),
        (2, "INSERT", "public.region_stats"),
        (3, "REFRESH MATERIALIZED VIEW", "public.customer_orders"),
    ]
    assert all(s["seconds"] >= 0 for s in steps)


def test_dry_run_lists_every_step_and_writes_nothing(spec_set: Path, app_db) -> None:
    url = app_db()
    result = load(spec_set, url, "--dry-run")
    assert result.returncode == 0, result.text
    shown = [line.strip() for line in result.text.splitlines() if "post-load step" in line]
    assert shown == [
        "would run post-load step 1: DELETE FROM public.region_stats",
        "would run post-load step 2: INSERT INTO public.region_stats (region, orders) SELECT "
        "c.region, count(*) FROM public.orders AS o INNER JOIN public.customers AS c "
        "ON c.id = o.customer_id GROUP BY c.region",
        "would run post-load step 3: REFRESH MATERIALIZED VIEW CONCURRENTLY public.customer_orders",
    ]
    assert not fetch(url, "SELECT 1 FROM pg_namespace WHERE nspname = 'seedgen'")


def test_killed_inside_a_step_resumes_at_that_step(spec_set: Path, app_db) -> None:
    """SIGKILL inside step 3's transaction: steps 1 and 2 committed and are not run again
    (step 2 again would violate region_stats' key: step 1 is what empties it)."""
    url = app_db()
    killed = load(spec_set, url, env={"SEEDGEN_FAILPOINT": "post-load-step:3"})
    assert killed.returncode == -9, killed.text
    before = ran_at(url)
    assert [s for s, _ in before] == [1, 2]
    assert scalar(url, "SELECT status FROM seedgen.loads") == "running"
    assert scalar(url, "SELECT count(*) FROM customer_orders") == 0  # step 3 rolled back
    resumed = load(spec_set, url, "--resume")
    assert resumed.returncode == 0, resumed.text
    assert ran_at(url)[:2] == before
    assert scalar(url, "SELECT status FROM seedgen.loads") == "complete"
    assert_derived(url)


def test_a_failing_step_keeps_the_load_and_its_hint_finishes_it(spec_set: Path, app_db) -> None:
    """No unique index on the view: REFRESH … CONCURRENTLY fails after the rows are in. The
    error names --resume; after the cause is fixed, the printed command completes the load."""
    url = app_db(unique_key=False)
    argv = ["load", str(spec_set), "--database-url", url]
    failed = faultkit.run(argv)
    assert failed.returncode not in (0, 1), failed.text
    assert "Traceback" not in failed.text
    errors = [line for line in failed.text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "post-load step 3" in errors[0], failed.text
    assert "rows are loaded" in errors[0]
    assert scalar(url, "SELECT count(*) FROM orders") > 0  # kept, not undone
    commands, problems = faultkit.printed_commands(
        failed.text, argv, spec_set, url, faultkit.Commands.of_cli()
    )
    assert not problems and commands, failed.text
    assert "--resume" in commands[0]
    with psycopg.connect(url) as conn:
        conn.execute(VIEW_KEY)  # type: ignore[call-overload]
    finished = faultkit.run(commands[0])
    assert finished.returncode == 0, finished.text
    assert_derived(url)
    assert scalar(url, "SELECT status FROM seedgen.loads") == "complete"


def test_append_and_reset_recompute(spec_set: Path, app_db, tmp_path: Path) -> None:
    """Every change seedgen makes runs the steps: an --append counts both sets' rows, a reset
    leaves the derived data of what remains."""
    url = app_db()
    assert load(spec_set, url).returncode == 0
    more = make_spec_set(tmp_path / "more", customers=50, seed=7, key_offset=1_000_000)
    appended = load(more, url, "--append")
    assert appended.returncode == 0, appended.text
    assert scalar(url, "SELECT count(*) FROM customers") > 300
    assert_derived(url)
    reset = faultkit.run(["reset", str(more), "--database-url", url, "--confirm"])
    assert reset.returncode == 0, reset.text
    assert scalar(url, "SELECT count(*) FROM customers") == 300
    assert_derived(url)
    reset = faultkit.run(["reset", str(spec_set), "--database-url", url, "--confirm"])
    assert reset.returncode == 0, reset.text
    assert scalar(url, "SELECT count(*) FROM region_stats") == 0
    assert scalar(url, "SELECT count(*) FROM customer_orders") == 0
    again = load(spec_set, url)  # the stats table is the steps', not "rows already there"
    assert again.returncode == 0, again.text
    assert_derived(url)


def test_steps_are_part_of_the_sets_identity(spec_set: Path) -> None:
    manifest = read_manifest(spec_set)
    changed = manifest.model_copy(update={"post_load": manifest.post_load[:2]})
    none = manifest.model_copy(update={"post_load": []})
    assert len({set_identity(manifest), set_identity(changed), set_identity(none)}) == 3
    # a set without steps keeps the identity it had before the field existed
    older = none.model_dump(mode="json")
    del older["post_load"]
    assert set_identity(none) == set_identity(type(none).model_validate(older))


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("INSERT INTO region_stats SELECT region, 1 FROM pg_catalog.pg_authid", "pg_authid"),
        ("UPDATE region_stats SET orders = 0 RETURNING *", "RETURNING"),
        ("UPDATE customers SET region = 'x'", "a table the set loads rows into"),
        ("INSERT INTO region_stats SELECT pg_sleep(1)::text, 1", r"pg_sleep\(\) is not allowed"),
        ("VACUUM customers", "VACUUM refused"),
        ("ANALYZE (VERBOSE) customers", "without options"),
        ("SELECT 1 INTO region_copy", "SELECT refused"),
    ],
)
def test_allow_list(spec_set: Path, statement: str, message: str) -> None:
    manifest = read_manifest(spec_set)
    hostile = manifest.model_copy(update={"post_load": [*manifest.post_load, statement]})
    with pytest.raises(ManifestError, match=message) as refused:
        post_load.check(hostile)
    assert "\n" not in refused.value.message and refused.value.hint


def test_allowed_forms_run_qualified(spec_set: Path) -> None:
    manifest = read_manifest(spec_set)
    allowed = [
        "ANALYZE customers, orders",
        "WITH c AS (SELECT region FROM customers) "
        "INSERT INTO region_stats SELECT region, count(*) FROM c GROUP BY 1 "
        "ON CONFLICT (region) DO UPDATE SET orders = excluded.orders",
        "UPDATE region_stats s SET orders = 0 FROM customers c WHERE c.region = s.region",
    ]
    steps = post_load.check(manifest.model_copy(update={"post_load": allowed}))
    assert steps[0].text == "ANALYZE public.customers, public.orders"
    assert "FROM c GROUP BY" in steps[1].text and "FROM public.customers" in steps[1].text
    assert steps[2].text.startswith("UPDATE public.region_stats AS s")


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (["ANALYZ customers"], r"post_load: .*step 1 does not parse"),
        (["ANALYZE customers", "ANALYZE orders; DROP TABLE orders"], r"step 2 holds 2 statements"),
    ],
)
def test_a_spec_step_that_does_not_parse_fails_before_any_row(
    steps: list[str], message: str
) -> None:
    from generator.spec.model import parse_spec
    from seedgen.errors import SpecError

    with pytest.raises(SpecError, match=message):
        parse_spec({"dataset": "regions", "post_load": steps})


def test_verify_recomputes_the_steps_and_names_stale_derived_data(spec_set: Path, app_db) -> None:
    url = app_db()
    assert load(spec_set, url).returncode == 0
    argv = ["verify", str(spec_set), "--database-url", url]
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE region_stats SET orders = orders + 1 WHERE region = 'west'")
        conn.execute("DELETE FROM orders WHERE id = (SELECT min(id) FROM orders)")
    stale = faultkit.run(argv)
    assert stale.returncode == 7, stale.text
    fails = "\n".join(line for line in stale.text.splitlines() if line.startswith("FAIL"))
    assert "public.customer_orders: not what the set's post-load steps compute" in fails
    assert "public.region_stats: not what the set's post-load steps compute" in fails
    assert (
        scalar(url, "SELECT orders FROM region_stats WHERE region = 'west'")
        == fetch(url, STATS.replace("GROUP BY 1", "WHERE c.region = 'west' GROUP BY 1"))[0][1] + 1
    )  # verify rolled the steps back: nothing changed


def test_repair_after_the_steps_leaves_no_stale_view(spec_set: Path, app_db) -> None:
    """Killed after every step committed: repair (which has no set to read) empties the tables
    and refreshes, from the ledger, the view a step refreshed."""
    url = app_db()
    killed = load(spec_set, url, env={"SEEDGEN_FAILPOINT": "before-commit"})
    assert killed.returncode == -9, killed.text
    assert scalar(url, "SELECT count(*) FROM customer_orders") > 0
    repaired = faultkit.run(["repair", "--database-url", url])
    assert repaired.returncode == 0, repaired.text
    assert scalar(url, "SELECT count(*) FROM orders") == 0
    assert scalar(url, "SELECT count(*) FROM customer_orders") == 0
    assert scalar(url, "SELECT count(*) FROM region_stats") == 0
    again = load(spec_set, url)
    assert again.returncode == 0, again.text
    assert_derived(url)
