"""The command line: config keys as flags, one-line errors that write nothing, docs that match."""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from generator.datasets.genonaut.settings import GenonautSettings
from generator.engine import Request, load_dataset
from seedgen.errors import ConfigError, EnvError
from seedgen.settings import describe_keys, parse_overrides
from tests.conftest import GENONAUT_TABLES, ROOT, seedgen


def test_flags_with_dashes_or_underscores_override_config(tmp_path: Path) -> None:
    for flag in ("--batch_size_content_items", "--batch-size-content-items"):
        overrides = parse_overrides(GenonautSettings, [flag, "5000", "--prompt-types=memes,logos"])
        ds = load_dataset(Request("genonaut", None, overrides, tmp_path / "none"))
        assert ds.settings.batch_size_content_items == 5000
        assert ds.settings.prompt_types == ["Memes", "Logos"]


def test_config_section_alias_and_conflict(tmp_path: Path) -> None:
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"seed_data_generator": {"target_rows_users": 77}}))
    ds = load_dataset(Request("genonaut", cfg, {}, tmp_path / "none"))
    assert ds.settings.target_rows_users == 77
    cfg.write_text(json.dumps({"seed_data": {}, "seed_data_generator": {}}))
    with pytest.raises(ConfigError, match="keep one"):
        load_dataset(Request("genonaut", cfg, {}, tmp_path / "none"))


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"batch_size_contnt_items": 5}, "unknown config key 'batch_size_contnt_items'"),
        ({"target_rows_users": "many"}, "config key 'target_rows_users'.*valid integer"),
        ({"format": "xml"}, "'parquet' or 'csv'"),
        ({"tags_per_item_min": 9, "tags_per_item_max": 3}, "must not exceed"),
    ],
)
def test_bad_config_gets_one_line_and_writes_nothing(
    tmp_path: Path, section: dict, message: str
) -> None:
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"seed_data": section}))
    out = tmp_path / "set"
    result = seedgen("generate", "genonaut", "--config", str(cfg), "--out", str(out))
    assert result.returncode == 2
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: ") and re.search(message, first), result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() and not Path(f"{out}.partial").exists()


def test_unknown_flag_names_the_valid_keys(tmp_path: Path) -> None:
    result = seedgen("generate", "genonaut", "--out", str(tmp_path / "s"), "--batch-size-x", "1")
    assert result.returncode == 2
    assert "valid keys:" in result.stderr and "batch_size_content_items" in result.stderr


@pytest.mark.parametrize("value", [None, "not-a-uuid"])
def test_admin_uuid_missing_or_invalid(
    tmp_path: Path, value: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    monkeypatch.delenv("DB_USER_ADMIN_UUID")
    if value:
        env_file.write_text(f"DB_USER_ADMIN_UUID={value}\n")
    with pytest.raises(EnvError) as info:
        load_dataset(Request("genonaut", None, {}, env_file))
    assert isinstance(info.value, RuntimeError)
    suggested = re.search(r"DB_USER_ADMIN_UUID=([0-9a-f-]{36})", info.value.hint or "")
    assert suggested and uuid.UUID(suggested.group(1)).version == 4
    out = tmp_path / "set"
    result = seedgen(
        "generate",
        "genonaut",
        "--env-file",
        str(env_file),
        "--out",
        str(out),
        env={"DB_USER_ADMIN_UUID": ""} if value is None else None,
    )
    assert result.returncode == 2 and "must be present" in result.stderr
    assert "copy this line into" in result.stderr and not out.exists()


def test_process_environment_wins_over_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("DB_USER_ADMIN_UUID=00000000-0000-4000-8000-000000000001\n")
    monkeypatch.setenv("DB_USER_ADMIN_UUID", "00000000-0000-4000-8000-000000000002")
    ds = load_dataset(Request("genonaut", None, {}, env_file))
    assert ds.context["admin_uuid"].endswith("0002")
    monkeypatch.delenv("DB_USER_ADMIN_UUID")
    ds = load_dataset(Request("genonaut", None, {}, env_file))
    assert ds.context["admin_uuid"].endswith("0001")


def test_generate_dry_run_prints_plan_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "set"
    result = seedgen(
        "generate",
        "genonaut",
        "--out",
        str(out),
        "--dry-run",
        "--target-rows-content-items",
        "1000",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr
    order = [
        re.search(rf"^\s+{t}\s", lines, re.M) for t in ("users", "content_items", "generation_jobs")
    ]
    assert all(order) and order[0].start() < order[1].start() < order[2].start()
    assert "1,000 rows" in lines and "dry run: nothing written" in lines
    assert not out.exists()


def test_load_refuses_unsafe_name_with_exit_code(tmp_path: Path, small_set: Path) -> None:
    result = seedgen("load", str(small_set), "--database-url", "postgresql://u:pw@localhost/prod")
    assert result.returncode == 4
    assert result.stderr.startswith("error: refusing database 'prod'")
    assert "pw" not in result.stderr.replace("--allow-any-name", "")


@pytest.mark.parametrize("create", [True, False])
def test_no_server_at_the_url_says_how_to_get_one(
    small_set: Path, tmp_path: Path, create: bool
) -> None:
    """No server answers (a closed port): one error line, a hint that names the embedded
    server (started by ``seedgen demo``), never ``repair`` (nothing was written)."""
    url = "postgresql://127.0.0.1:1/nobody_here_test"
    extra = ["--create-database"] if create else []
    run = seedgen("load", str(small_set), "--database-url", url, *extra, cwd=tmp_path)
    assert run.returncode != 0
    lines = [line for line in run.stderr.splitlines() if line.startswith(("error:", "hint:"))]
    assert [line.split(":")[0] for line in lines] == ["error", "hint"], run.stderr
    assert "Connection refused" in lines[0] and "seedgen demo" in lines[1], run.stderr
    assert "repair" not in run.stderr and "Traceback" not in run.stderr, run.stderr


def test_no_server_at_the_url_names_a_running_embedded_server(
    small_set: Path, tmp_path: Path
) -> None:
    """When this directory's embedded server runs (its pid file names a live process), the
    hint gives the URL of the database on it."""
    pg = tmp_path / ".seedgen" / "pg"
    pg.mkdir(parents=True)
    (pg / "postmaster.pid").write_text(f"{os.getpid()}\n")
    url = "postgresql://127.0.0.1:1/nobody_here_test"
    run = seedgen("load", str(small_set), "--database-url", url, cwd=tmp_path)
    wanted = f"use postgresql://postgres@/nobody_here_test?host={quote(str(pg.resolve()))}"
    assert run.returncode != 0 and wanted in run.stderr, run.stderr


def test_readme_documents_the_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    help_text = seedgen("--help").stdout
    commands = re.findall(r"^\s{2}(\w+)\s", help_text.split("Commands")[1], re.M)
    assert set(commands) >= {"generate", "load", "demo"}
    for command in commands:
        assert f"seedgen {command}" in readme, f"README lacks `seedgen {command}`"
        sub_help = seedgen(command, "--help").stdout
        assert "Example" in sub_help, f"{command} --help has no example"
    for flag, _default, _text in describe_keys(GenonautSettings):
        assert flag in readme, f"README lacks config flag {flag}"


def test_log_json_quiet_and_errors_as_json(small_set: Path, make_db) -> None:
    url = make_db()
    result = seedgen("--log-json", "load", str(small_set), "--database-url", url)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert {"info", "batch", "summary"} <= {e["event"] for e in events}
    items = [e for e in events if e["event"] == "batch" and e["table"] == "content_items"]
    assert items[-1]["done"] == items[-1]["total"] == 400
    assert all(e["bytes"] > 0 for e in items) and len(items) == 4  # batches of 128 rows
    quiet = seedgen("--quiet", "verify", str(small_set), "--database-url", url)
    assert quiet.returncode == 0
    assert quiet.stderr.strip().splitlines()[-1].endswith("checks passed")
    assert len(quiet.stderr.strip().splitlines()) == 1
    again = seedgen("--log-json", "load", str(small_set), "--database-url", url)
    assert again.returncode == 5
    error = [json.loads(line) for line in again.stdout.splitlines()][-1]
    assert error["event"] == "error" and "already loaded" in error["message"] and error["hint"]


def test_verbose_details_and_verify_exit_code(small_set: Path, make_db) -> None:
    url = make_db()
    verbose = seedgen("--verbose", "load", str(small_set), "--database-url", url)
    assert verbose.returncode == 0, verbose.stderr
    assert "committed users/users-00000.parquet (60 rows)" in verbose.stderr
    assert "DROP INDEX" in verbose.stderr
    ok = seedgen("verify", str(small_set), "--database-url", url)
    assert ok.returncode == 0, ok.stderr
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP INDEX public.ix_tags_name")
    broken = seedgen("verify", str(small_set), "--database-url", url)
    assert broken.returncode == 7
    assert "FAIL index missing: CREATE UNIQUE INDEX ix_tags_name" in broken.stderr
    plain = seedgen("reset", str(small_set), "--database-url", url, "--confirm")
    assert plain.returncode == 0 and "DROP INDEX" not in plain.stderr


def test_terminal_progress_bars(small_set: Path, make_db) -> None:
    from loader.load import load_set
    from seedgen.progress import TtyReporter

    reporter = TtyReporter()
    try:
        load_set(small_set, make_db(), echo=reporter)
    finally:
        reporter.close()
    tasks = {t.description: t for t in reporter.progress.tasks}
    assert set(tasks) == set(GENONAUT_TABLES)
    assert all(t.completed == t.total for t in tasks.values())
    assert all(reporter.bytes[name] > 0 for name in tasks)
