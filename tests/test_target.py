"""The local-only guard looks where libpq will really connect: hostaddr, service files, PG* vars.

Every URL points at port 1 (no server), so a guard that lets one through is seen by a parse that
succeeds, and nothing here ever connects.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from loader.target import parse_target
from seedgen.errors import SafetyError
from tests.conftest import seedgen

SERVICES = """\
# services for the tests
[remote]
host=db.example.com
dbname=app_test

[remote_addr]
host=localhost
hostaddr=192.0.2.7
dbname=app_test

[local]
  host=/var/run/postgresql
  port=1
dbname=app_test

[prod_name]
host=localhost
dbname=app
"""


@pytest.fixture(autouse=True)
def _libpq_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No PG* variable leaks in from the machine; services come from a file of the test's."""
    for var in ("PGHOST", "PGHOSTADDR", "PGDATABASE", "PGSERVICE", "PGSYSCONFDIR"):
        monkeypatch.delenv(var, raising=False)
    services = tmp_path / "pg_service.conf"
    services.write_text(SERVICES)
    monkeypatch.setenv("PGSERVICEFILE", str(services))
    monkeypatch.setenv("HOME", str(tmp_path))
    return services


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://localhost:1/x_test?hostaddr=192.0.2.1",
        "postgresql://127.0.0.1:1/x_test?hostaddr=192.0.2.1",
        "postgresql:///x_test?host=/tmp&hostaddr=192.0.2.1",
        "postgresql://localhost:1,db.example.com:1/x_test",
        "postgresql://localhost:1/x_test?host=localhost,10.0.0.1",
        "postgresql://localhost,localhost:1/x_test?hostaddr=127.0.0.1,192.0.2.1",
        "postgresql://[::ffff:192.0.2.1]:1/x_test",
        "postgresql://localhost:1/x_test?service=remote_addr",
        "postgresql:///x_test?service=remote",
        "postgresql://?service=remote",
    ],
)
def test_remote_endpoints_are_refused(url: str) -> None:
    with pytest.raises(SafetyError, match="refusing host .*--allow-remote"):
        parse_target(url)
    assert parse_target(url, allow_remote=True).dbname in ("x_test", "app_test")


@pytest.mark.parametrize(
    ("var", "value"),
    [("PGHOSTADDR", "192.0.2.1"), ("PGHOST", "db.example.com"), ("PGSERVICE", "remote")],
)
def test_remote_endpoints_from_the_environment_are_refused(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str
) -> None:
    monkeypatch.setenv(var, value)
    # PGHOSTADDR applies even next to an explicit host: hostaddr is a parameter of its own
    url = "postgresql://localhost:1/x_test" if var == "PGHOSTADDR" else "postgresql:///x_test"
    with pytest.raises(SafetyError, match="refusing host"):
        parse_target(url)


def test_the_url_wins_over_service_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGHOST", "db.example.com")
    monkeypatch.setenv("PGSERVICE", "remote")
    # host set in the URL: neither the service's host nor PGHOST applies (libpq's order)
    assert parse_target("postgresql://localhost:1/x_test").dbname == "x_test"
    monkeypatch.setenv("PGHOSTADDR", "127.0.0.1")
    assert parse_target("postgresql://db.example.com:1/x_test").dbname == "x_test"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://localhost:1/x_test",
        "postgresql://127.0.0.1:1/x_test?hostaddr=127.0.0.1",
        "postgresql://db.example.com:1/x_test?hostaddr=127.0.0.1",  # host only names it
        "postgresql://[::1]:1,localhost:1/x_test",
        "postgresql:///x_test",
        "postgresql:///x_test?host=/tmp",
        "postgresql://?service=local",
    ],
)
def test_local_endpoints_are_accepted(url: str) -> None:
    assert parse_target(url).dbname == ("app_test" if "service=" in url else "x_test")


def test_service_database_name_is_guarded_and_unknown_service_is_one_line(
    tmp_path: Path,
) -> None:
    with pytest.raises(SafetyError, match="refusing database 'app'"):
        parse_target("postgresql://?service=prod_name")
    with pytest.raises(SafetyError, match="service 'nosuch' is defined in none of"):
        parse_target("postgresql://localhost:1/x_test?service=nosuch")
    result = seedgen("load", str(tmp_path), "--database-url", "postgresql:///x_test?service=nosuch")
    assert result.returncode == 4, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: service 'nosuch'"), result.stderr
    assert lines[1].startswith("hint: ")


def test_mismatched_host_and_hostaddr_lists_are_refused() -> None:
    with pytest.raises(SafetyError, match="could not match 2 host name"):
        parse_target("postgresql://localhost:1/x_test?host=localhost,localhost&hostaddr=127.0.0.1")
