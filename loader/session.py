"""Connections to the target database: connect with a clear error, one load at a time, create.

Shared by ``load``, ``repair``, ``reset`` and ``verify`` so every command reports connection
problems the same way and honours the same advisory lock.
"""

from __future__ import annotations

import psycopg
import psycopg.conninfo
from psycopg import sql

from loader.target import Target
from seedgen import devdb
from seedgen.errors import LoadError

LOCK_KEY = "seedgen.load"
LOCK_WAIT = "5s"


def pg_message(exc: BaseException) -> str:
    """The first line of a driver/server error (no traceback, no connection string)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def connect(target: Target) -> psycopg.Connection:
    try:
        return psycopg.connect(target.conninfo, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        missing = f'database "{target.dbname}" does not exist' in str(exc)
        raise LoadError(
            f"cannot connect to {target}: {pg_message(exc)}",
            hint="`seedgen load SET --database-url URL --create-database` creates it"
            if missing
            else no_server_hint(target)
            if no_answer(exc)
            else _REFUSED,
        ) from None


_REFUSED = "check the URL's user, password and database, and the server's access rules"


def no_answer(exc: psycopg.OperationalError) -> bool:
    """No server answered (refused, no socket, timeout): not a server's own refusal."""
    return exc.sqlstate is None and "FATAL" not in str(exc)


def no_server_hint(target: Target) -> str:
    """What to do when no server answers at the URL: the embedded one, if it runs here."""
    embedded = devdb.embedded_url(target.dbname)
    if embedded:
        return f"check the URL; this directory's embedded server runs: use {embedded}"
    return (
        "check the URL and that the server is running (no server? `seedgen demo` starts an "
        "embedded one and prints its URL)"
    )


def lock(conn: psycopg.Connection, wait: str = LOCK_WAIT) -> None:
    """One seedgen writer per database: a session advisory lock, held until disconnect.

    Waits up to ``wait``: a backend that has just closed may not have released it yet (its exit
    is asynchronous), so a command run right after another would otherwise be refused.
    """
    conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(wait)))
    try:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (LOCK_KEY,))
    except psycopg.errors.LockNotAvailable:
        raise LoadError(
            f"another seedgen load is running on this database (advisory lock held for {wait})",
            hint="wait for it to finish, then run this command again",
        ) from None
    finally:
        if not conn.closed:
            conn.execute("RESET lock_timeout")


def create_database(target: Target) -> bool:
    """Create the target database if missing (via ``postgres``); True if it was created."""
    params = psycopg.conninfo.conninfo_to_dict(target.conninfo)
    params["dbname"] = "postgres"
    admin = psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in params.items()})
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (target.dbname,)
            ).fetchone()
            if exists:
                return False
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.dbname)))
            return True
    except psycopg.OperationalError as exc:
        if exc.sqlstate is None:  # while connecting: no server, or the server said no
            raise LoadError(
                f"cannot create database {target.dbname}: {pg_message(exc)}",
                hint=no_server_hint(target) if no_answer(exc) else _REFUSED,
            ) from None
        raise LoadError(  # CREATE DATABASE itself failed (template in use, disk full, ...)
            f"cannot create database {target.dbname}: {pg_message(exc)}",
            hint="fix what the server says, then run the same command again",
        ) from None
    except psycopg.Error as exc:
        raise LoadError(
            f"cannot create database {target.dbname}: {pg_message(exc)}",
            hint="the URL's user needs CREATEDB (or create the database yourself), then run the "
            "same command again",
        ) from None
