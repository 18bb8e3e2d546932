"""Datasets register through the entry point group ``seedgen.datasets``: a package's own dataset
is listed by ``seedgen datasets`` with its help and generates; the CLI names no dataset itself."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from tests.conftest import seedgen

TINY = """
import pyarrow as pa
from sqlalchemy import BigInteger, Column, Integer, MetaData, Table

from generator.dataset import Dataset, TableGen
from seedgen.settings import GenerateSettings

metadata = MetaData()
Table("tiny", metadata, Column("id", BigInteger, primary_key=True), Column("val", Integer))


class TinyDataset(Dataset):
    name = "tiny"
    help = "a one-table dataset from a test package"
    example = "seedgen generate tiny --seed 7"
    settings_model = GenerateSettings
    config_sections = ("tiny",)
    metadata = metadata

    def tables(self):
        return [TableGen("tiny", 25, ("id", "val"), 10, key_ranges={"id": [1, 25]})]

    def build(self, table, start, stop):
        ids = pa.array(range(start + 1, stop + 1), pa.int64())
        return {"id": ids, "val": pa.array([i * 3 for i in range(start, stop)], pa.int32())}
"""


def _package(root: Path, name: str = "tiny", target: str = "tinyds.dataset:TinyDataset") -> dict:
    """A dataset package made importable and registered without pip: a dist-info on PYTHONPATH."""
    (root / "tinyds").mkdir(parents=True, exist_ok=True)
    (root / "tinyds" / "__init__.py").write_text("")
    (root / "tinyds" / "dataset.py").write_text(textwrap.dedent(TINY))
    info = root / "tinyds-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tinyds\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[seedgen.datasets]\n{name} = {target}\n")
    return {"PYTHONPATH": str(root)}


def test_entry_point_dataset_is_listed_and_generates(tmp_path: Path) -> None:
    env = _package(tmp_path / "site")
    listed = seedgen("datasets", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "tiny" in listed.stdout and "a one-table dataset from a test package" in listed.stdout
    assert "genonaut" in listed.stdout and "spec" in listed.stdout
    keys = seedgen("datasets", "tiny", env=env)
    assert "section 'tiny'" in keys.stdout and "seedgen generate tiny --seed 7" in keys.stdout
    helped = seedgen("generate", "--help", env=env)
    assert "tiny" in helped.stdout and "target-rows-content-items" not in helped.stdout
    out = tmp_path / "set"
    made = seedgen("generate", "tiny", "--out", str(out), "--seed", "7", env=env)
    assert made.returncode == 0, made.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["dataset"] == "tiny"
    assert {t["name"]: t["rows"] for t in manifest["tables"]} == {"tiny": 25}


def test_a_name_registered_twice_is_refused(tmp_path: Path) -> None:
    env = _package(tmp_path / "site", name="genonaut")
    result = seedgen("generate", "genonaut", "--dry-run", env=env)
    assert result.returncode == 2
    assert "registered twice" in result.stderr and "tinyds.dataset:TinyDataset" in result.stderr


def test_unknown_dataset_hint_points_at_the_listing(tmp_path: Path) -> None:
    result = seedgen("generate", "nosuch", "--out", str(tmp_path / "x"))
    assert result.returncode == 2
    assert "unknown dataset 'nosuch'" in result.stderr and "seedgen datasets" in result.stderr
