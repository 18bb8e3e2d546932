"""Same seed => identical data, whatever the shard size, worker count or format."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from seedgen.manifest import read_manifest
from tests.conftest import make_set
from tests.shards import read_tables as tables


@pytest.fixture
def reference(tmp_path: Path) -> dict[str, pa.Table]:
    return tables(make_set(tmp_path / "ref"))


def test_same_seed_twice_is_identical(tmp_path: Path, reference: dict) -> None:
    again = tables(make_set(tmp_path / "again"))
    assert again.keys() == reference.keys()
    for name in reference:
        assert again[name].equals(reference[name]), name


def test_shard_count_and_workers_do_not_change_data(tmp_path: Path, reference: dict) -> None:
    sharded = make_set(tmp_path / "many", shard_rows=97, max_workers=2)
    manifest = read_manifest(sharded)
    assert len(manifest.table("content_items_auto").shards) >= 9
    assert len(manifest.table("content_tags").shards) > 20
    other = tables(sharded)
    for name in reference:
        assert other[name].equals(reference[name]), name


def test_one_worker_equals_many(tmp_path: Path, reference: dict) -> None:
    other = tables(make_set(tmp_path / "one", max_workers=1, shard_rows=300))
    for name in reference:
        assert other[name].equals(reference[name]), name


def test_csv_holds_the_same_values(tmp_path: Path, reference: dict) -> None:
    other = tables(make_set(tmp_path / "csv", format="csv"))
    for name in reference:
        assert other[name].equals(reference[name]), name


def test_another_seed_differs(tmp_path: Path, reference: dict) -> None:
    other = tables(make_set(tmp_path / "seed7", seed=7))
    assert not other["content_items"].equals(reference["content_items"])
    assert other["tags"].column("name").equals(reference["tags"].column("name"))


def test_manifest_records_versions_and_checksums(tmp_path: Path) -> None:
    manifest = read_manifest(make_set(tmp_path / "m"))
    assert {"seedgen", "faker", "pyarrow"} <= manifest.versions.keys()
    assert manifest.seed == 42 and manifest.dataset == "genonaut"
    shard = manifest.table("users").shards[0]
    assert len(shard.sha256) == 64 and shard.bytes > 0 and shard.rows == 60
