"""The database URL: parse it, refuse unsafe targets before connecting, never print a password."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import psycopg.conninfo

from loader import endpoint
from seedgen.errors import SafetyError

SAFE_SUFFIXES = ("_demo", "_test")
PRODUCTION_MARKERS = ("APP_ENV", "SEEDGEN_ENV")
_SCHEMES = re.compile(r"^(postgres|postgresql)(\+[a-z0-9_]+)?://", re.IGNORECASE)


@dataclass(frozen=True)
class Target:
    conninfo: str  # what psycopg connects with (may hold a password: never print it)
    dbname: str
    display: str  # the URL with any password masked

    def __str__(self) -> str:
        return self.display


def redact(url: str) -> str:
    """Mask the password of a URL or a key=value conninfo."""
    url = re.sub(r"(://[^:/@?#]*:)[^@/?#]*@", r"\1***@", url)
    return re.sub(r"(password\s*=\s*)(\S+)", r"\1***", url, flags=re.IGNORECASE)


def refuse_production() -> None:
    """A production marker in the environment is a hard block, with no override."""
    for name in PRODUCTION_MARKERS:
        if os.environ.get(name, "").strip().lower() in ("production", "prod"):
            raise SafetyError(
                f"{name}={os.environ[name]} marks this environment as production; seedgen "
                f"never writes there",
                hint=f"unset {name} if this really is a development machine",
            )


def parse_target(url: str, *, allow_any_name: bool = False, allow_remote: bool = False) -> Target:
    """Validate ``url`` and apply the safety guards; no connection is made."""
    refuse_production()
    display = redact(url)
    if not _SCHEMES.match(url.strip()):
        raise SafetyError(
            f"database URL {display!r} is not a postgresql:// URL",
            hint="use postgresql://user@host:5432/name_demo",
        )
    cleaned = _SCHEMES.sub("postgresql://", url.strip(), count=1)
    try:
        params = psycopg.conninfo.conninfo_to_dict(cleaned)
    except psycopg.ProgrammingError as exc:
        raise SafetyError(
            f"database URL {display!r} is invalid: {redact(str(exc))}",
            hint="use postgresql://user@host:5432/name_demo",
        ) from None
    resolved = endpoint.resolve(params)  # service file and PG* variables, as libpq does
    dbname = resolved.get("dbname", "")
    if not dbname:
        raise SafetyError(
            f"database URL {display!r} names no database",
            hint="end the URL with /<name>_demo or /<name>_test",
        )
    if not allow_any_name and not dbname.endswith(SAFE_SUFFIXES):
        raise SafetyError(
            f"refusing database {dbname!r}: seedgen writes only to databases whose name ends "
            f"in _demo or _test",
            hint="point --database-url at a demo/test database, or pass --allow-any-name",
        )
    remote = [e for e in endpoint.endpoints(resolved) if not endpoint.is_local(e)]
    if remote and not allow_remote:
        raise SafetyError(
            f"refusing host {', '.join(remote)}: seedgen writes only to local servers by "
            f"default (hostaddr, service files, PGHOST and PGHOSTADDR count)",
            hint="pass --allow-remote if this remote database is really a demo/test one",
        )
    return Target(conninfo=cleaned, dbname=dbname, display=display)
