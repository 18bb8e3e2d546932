"""Fixtures: a real PostgreSQL (local, SEEDGEN_TEST_DSN or embedded), scratch databases, sets.

Every database a test makes is named ``seedgen_t_<random>_test`` and dropped afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from generator.datasets.genonaut.app_tables import BUILDERS
from generator.engine import Request, generate
from seedgen import devdb

ADMIN = "121e194b-4caa-4b81-ad4f-86ca3919d5b9"
SCHEMA_SQL = Path(__file__).parent / "fixtures" / "genonaut_schema.sql"
APP_TABLES = tuple(BUILDERS)  # generator/datasets/genonaut/app_tables.py
GENONAUT_TABLES = (
    "users",
    "tags",
    "content_items",
    "content_items_auto",
    "generation_jobs",
    "content_tags",
    "tag_parents",
    "tag_cardinality_stats",
    "gen_source_stats",
    *APP_TABLES,
)
SMALL = {
    "target_rows_users": 60,
    "target_rows_content_items": 400,
    "target_rows_content_items_auto": 900,
    "batch_size_content_items": 128,
    "batch_size_content_items_auto": 256,
    "batch_size_default": 5000,
    "shard_rows": 20000,
    "route_analytics_rows": 3000,
}


@pytest.fixture(autouse=True)
def _admin_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_USER_ADMIN_UUID", ADMIN)


@pytest.fixture(scope="session")
def server() -> str:
    return devdb.server_dsn()


@pytest.fixture
def make_db(server: str) -> Iterator[Callable[..., str]]:
    """Create a scratch database (optionally with the real genonaut schema); return its URL."""
    made: list[str] = []

    def make(with_schema: bool = True, schema: Path = SCHEMA_SQL) -> str:
        name = f"seedgen_t_{uuid.uuid4().hex[:10]}_test"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        made.append(name)
        url = devdb.as_url(devdb.with_dbname(server, name))
        if with_schema:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(schema.read_text())
                conn.execute("SELECT pg_catalog.set_config('search_path', 'public', false)")
        return url

    yield make
    with psycopg.connect(server, autocommit=True) as conn:
        for name in made:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def scratch_database(server: str, with_schema: bool = True) -> Iterator[str]:
    """A ``seedgen_t_*_test`` database (with the real genonaut schema) for a module-scoped
    fixture; dropped on exit. Yields its URL."""
    name = f"seedgen_t_{uuid.uuid4().hex[:10]}_test"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = devdb.as_url(devdb.with_dbname(server, name))
    try:
        if with_schema:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(SCHEMA_SQL.read_text())
        yield url
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def make_set(out: Path, env_file: Path | None = None, **overrides: object) -> Path:
    req = Request("genonaut", None, {**SMALL, **overrides}, env_file or Path("env/.env-absent"))
    generate(req, out, force=True, echo=lambda _m: None)
    return out


@pytest.fixture
def small_set(tmp_path: Path) -> Path:
    return make_set(tmp_path / "small")


def fetch(url: str, query: str, params: tuple | dict = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def scalar(url: str, query: str, params: tuple = ()) -> Any:
    return fetch(url, query, params)[0][0]


ROOT = Path(__file__).resolve().parents[1]


def seedgen(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI (``python -m seedgen``) in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "seedgen", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
