"""config.json sections: a typo is an error, a missing one is said, bad JSON points at the spot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import seedgen

NOTICE = "config.json has no section 'seed_data' for genonaut: using the defaults"


def _dry_run(tmp_path: Path, config_text: str | None) -> tuple[int, str]:
    if config_text is not None:
        (tmp_path / "config.json").write_text(config_text)
    small = ["--target-rows-content-items", "400", "--target-rows-content-items-auto", "900"]
    result = seedgen("generate", "genonaut", "--dry-run", "--out", "set", *small, cwd=tmp_path)
    return result.returncode, result.stderr


def test_a_misspelled_section_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    code, err = _dry_run(tmp_path, json.dumps({"seed_dta": {"target_rows_users": 7}}))
    assert code == 2, err
    lines = err.splitlines()
    assert lines[0] == "error: config.json: unknown section 'seed_dta'", err
    assert lines[1].startswith("hint: did you mean 'seed_data'?"), err


@pytest.mark.parametrize("text", ["", "  \n", "{}"])
def test_an_empty_file_or_missing_section_is_said_once(tmp_path: Path, text: str) -> None:
    code, err = _dry_run(tmp_path, text)
    assert code == 0, err
    assert err.count(NOTICE) == 1, err


def test_no_config_file_is_said_too(tmp_path: Path) -> None:
    code, err = _dry_run(tmp_path, None)
    assert code == 0 and err.count("no config.json: using the defaults for genonaut") == 1, err


def test_invalid_json_is_one_line_with_line_and_column(tmp_path: Path) -> None:
    code, err = _dry_run(tmp_path, '{\n  "seed_data": {\n    "seed": 1,\n  }\n}\n')
    assert code == 2, err
    lines = err.splitlines()
    assert lines[0].startswith("error: config.json: invalid JSON at line 4, column 3"), err
    assert len(lines) == 2 and lines[1].startswith("hint: "), err


def test_dry_run_does_not_demand_force_for_an_existing_set(tmp_path: Path) -> None:
    out = tmp_path / "set"
    out.mkdir()
    (out / "manifest.json").write_text("{}")  # what is there is not read, only not replaced
    small = ["--target-rows-content-items", "400", "--target-rows-content-items-auto", "900"]
    result = seedgen("generate", "genonaut", "--dry-run", "--out", str(out), *small, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "already exists: a real run needs --force to replace it" in result.stderr
    assert (out / "manifest.json").read_text() == "{}"
    real = seedgen("generate", "genonaut", "--out", str(out), cwd=tmp_path)
    assert real.returncode == 2 and "already exists" in real.stderr
