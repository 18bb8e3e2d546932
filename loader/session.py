"""Connections to the target database: connect with a clear error, one load at a time, create.

Shared by ``load``, ``repair``, ``reset`` and ``verify`` so every command reports connection
problems the same way and honours the same advisory lock.
"""

from __future__ import annotations

import psycopg
import psycopg.conninfo
from psycopg import sql

from loader.target import Target
from seedgen.errors import LoadError

LOCK_KEY = "seedgen.load"


def pg_message(exc: BaseException) -> str:
    """The first line of a driver/server error (no traceback, no connection string)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def connect(target: Target) -> psycopg.Connection:
    try:
        return psycopg.connect(target.conninfo, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise LoadError(
            f"cannot connect to {target}: {pg_message(exc)}",
            hint="check the URL and that the server is running",
        ) from None


def lock(conn: psycopg.Connection) -> None:
    """One seedgen writer per database: a session advisory lock, held until disconnect."""
    row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (LOCK_KEY,)).fetchone()
    if not row or not row[0]:
        raise LoadError(
            "another seedgen load is running on this database (advisory lock held)",
            hint="wait for it to finish, then run this command again",
        )


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
    except psycopg.Error as exc:
        raise LoadError(f"cannot create database {target.dbname}: {pg_message(exc)}") from None
