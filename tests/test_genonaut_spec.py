"""genonaut is a spec: the shipped ``genonaut.yaml`` runs standalone (``seedgen generate --spec``)
once given an admin UUID, as a starting point for a user's own spec; a copy whose derived table
sizes do not follow from its users and items is refused in one line naming the number."""

from __future__ import annotations

from pathlib import Path

import yaml

from generator.datasets.genonaut import app_tables
from generator.spec.dataset import prepare
from seedgen.manifest import read_manifest
from tests.conftest import ADMIN, ROOT, scalar, seedgen
from tests.test_spec_load import make_spec_set

SPEC = ROOT / "generator" / "datasets" / "genonaut" / "genonaut.yaml"
SMALL = {"users": 20, "content_items": 60, "content_items_auto": 80, "content_tags": 140}


def _copy(path: Path, **rows: int) -> Path:
    data = yaml.safe_load(SPEC.read_text())
    data["params"] = {"admin_uuid": ADMIN, "images_dir": "media/"}
    for table, n in rows.items():
        data["tables"][table]["rows"] = n
    if "content_items" in rows:  # the auto items' ids follow the items' (one contiguous range)
        auto = data["tables"]["content_items_auto"]["columns"]
        auto["id"] = {**auto["id"], "start": 3_000_000 + rows["content_items"]}
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_copy_with_a_wrong_derived_size_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "set"
    run = seedgen(
        "generate", "--spec", str(_copy(tmp_path / "my.yaml", **SMALL)), "--out", str(out)
    )
    assert run.returncode != 0
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: table generation_jobs: rows 122,449 but the genonaut layout needs 143"
    ], run.stderr
    assert "set tables.generation_jobs.rows to 143" in run.stderr
    assert not out.exists()


def test_the_shipped_spec_generates_standalone(tmp_path: Path) -> None:
    spec = _copy(tmp_path / "my.yaml", **SMALL, generation_jobs=143)
    set_dir = make_spec_set(tmp_path / "set", spec)
    counts = {t.name: t.rows for t in read_manifest(set_dir).tables}
    assert {t: counts[t] for t in ("users", "content_items", "content_items_auto")} == {
        "users": 20,
        "content_items": 60,
        "content_items_auto": 80,
    }
    assert counts["generation_jobs"] == 143 and counts["tags"] == 127
    assert counts["content_items_all"] == 0  # the partitions hold the rows
    assert counts["gen_source_stats"] <= 2 + 2 * 20  # sized from these users, not the defaults
    resolved = prepare(spec)
    assert resolved["params"]["images_dir"] == "media/"


def test_a_standalone_copy_loads_verifies_resets_and_loads_again(tmp_path: Path, make_db) -> None:
    """With ``--create-schema`` into an empty database: the sequences come with the first table
    the set creates (the skipped app tables come first in DDL order), the partitions' parent
    holds no rows of its own (counted ``FROM ONLY``), and a reset passes it by (no primary key,
    nothing to remove)."""
    spec = _copy(tmp_path / "my.yaml", **SMALL, generation_jobs=143)
    set_dir = make_spec_set(tmp_path / "set", spec)
    url = make_db(with_schema=False)
    load = ("load", str(set_dir), "--database-url", url)
    first = seedgen(*load, "--create-schema")
    assert first.returncode == 0, first.stderr
    for table in app_tables.BUILDERS:  # the app's activity tables come with the spec too
        assert scalar(url, f"SELECT count(*) FROM {table}") > 0, table  # noqa: S608
    assert scalar(url, "SELECT last_value FROM content_items_id_seq") >= 3_000_000
    done = seedgen("verify", str(set_dir), "--database-url", url)
    assert done.returncode == 0, done.stdout + done.stderr
    reset = seedgen("reset", str(set_dir), "--database-url", url, "--confirm")
    assert reset.returncode == 0, reset.stderr
    assert scalar(url, "SELECT count(*) FROM content_items_all") == 0
    again = seedgen(*load)
    assert again.returncode == 0, again.stderr
    assert scalar(url, "SELECT count(*) FROM content_items_all") == 140  # 60 + 80, by partition
    assert seedgen("verify", str(set_dir), "--database-url", url).returncode == 0


def test_a_copy_whose_ids_leave_a_gap_is_one_line(tmp_path: Path) -> None:
    """The auto items' ids must follow the items' (the builders and content_tags assume it)."""
    spec = _copy(tmp_path / "my.yaml", **SMALL, generation_jobs=143)
    data = yaml.safe_load(spec.read_text())
    data["tables"]["content_items_auto"]["columns"]["id"]["start"] = 3_020_000
    spec.write_text(yaml.safe_dump(data))
    out = tmp_path / "set"
    run = seedgen("generate", "--spec", str(spec), "--out", str(out))
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert run.returncode != 0 and errors == [
        "error: table content_items_auto, column id: start 3,020,000 but the genonaut layout "
        "needs 3,000,060"
    ], run.stderr
    assert "set tables.content_items_auto.columns.id.start to 3000060" in run.stderr
    assert not out.exists()


def test_the_resolved_spec_regenerates_the_same_set(tmp_path: Path) -> None:
    """``seedgen spec show`` prints a spec that is a spec: with its ``models`` kept (the builder
    tables' columns come from them), it generates byte-identical shards."""
    spec = _copy(tmp_path / "my.yaml", **SMALL, generation_jobs=143)
    shown = seedgen("spec", "show", str(spec))
    assert shown.returncode == 0, shown.stderr
    again = tmp_path / "shown.yaml"
    again.write_text(shown.stdout)
    digests = []
    for source in (spec, again):
        manifest = read_manifest(make_spec_set(tmp_path / source.stem, source))
        digests.append({t.name: [s.sha256 for s in t.shards] for t in manifest.tables})
    assert digests[0] == digests[1] and len(digests[0]) == 25
