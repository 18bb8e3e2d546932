"""Generating a spec like an earlier set made with another Faker warns that pool-backed columns
may differ, naming them; nothing is said when the versions match or no column uses Faker."""

from __future__ import annotations

import json
from pathlib import Path

import faker

from tests.conftest import seedgen

SPEC = """
dataset: drift
tables:
  people:
    rows: 20
    primary_key: [id]
    columns:
      id: {kind: sequence}
      email: {kind: faker, provider: email, type: text}
      extra: {kind: json, fields: {city: {kind: nullable, of: {kind: faker, provider: city}}}}
      score: {kind: range, min: 1, max: 9, type: integer}
"""
PLAIN = SPEC.replace("{kind: faker, provider: email, type: text}", "{kind: const, value: x}")
PLAIN = PLAIN.replace(
    "{kind: nullable, of: {kind: faker, provider: city}}", "{kind: const, value: y}"
)


def _set(tmp_path: Path, faker_version: str) -> tuple[Path, Path]:
    spec = tmp_path / "drift.yaml"
    spec.write_text(SPEC)
    out = tmp_path / "set"
    made = seedgen("generate", "--spec", str(spec), "--out", str(out), "--max-workers", "1")
    assert made.returncode == 0, made.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["versions"]["faker"] = faker_version
    (out / "manifest.json").write_text(json.dumps(manifest))
    return spec, out


def test_like_a_set_from_another_faker_warns_with_the_columns(tmp_path: Path) -> None:
    spec, old = _set(tmp_path, "1.0.0")
    result = seedgen("generate", "--spec", str(spec), "--like", str(old), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert f"made with Faker 1.0.0, this is Faker {faker.VERSION}" in result.stderr
    assert "pool-backed columns may differ" in result.stderr
    assert "people.email, people.extra" in result.stderr and "people.score" not in result.stderr
    again = seedgen("generate", "--spec", str(spec), "--out", str(old), "--force", "--dry-run")
    assert "made with Faker 1.0.0" in again.stderr


def test_no_warning_for_the_same_faker_or_no_faker_column(tmp_path: Path) -> None:
    spec, old = _set(tmp_path, faker.VERSION)
    same = seedgen("generate", "--spec", str(spec), "--like", str(old), "--dry-run")
    assert same.returncode == 0 and "pool-backed" not in same.stderr
    plain = tmp_path / "plain.yaml"
    plain.write_text(PLAIN)
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["versions"]["faker"] = "1.0.0"
    (old / "manifest.json").write_text(json.dumps(manifest))
    result = seedgen("generate", "--spec", str(plain), "--like", str(old), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "pool-backed" not in result.stderr and "dry run" in result.stderr


def test_like_needs_a_spec(tmp_path: Path) -> None:
    result = seedgen("generate", "genonaut", "--like", str(tmp_path), "--dry-run")
    assert result.returncode == 2 and "seedgen generate --spec FILE --like SET" in result.stderr
