"""Where libpq will really connect, resolved as libpq does it, before any connection is made.

A URL alone does not say where a connection goes. libpq fills every parameter the conninfo does
not set from its *service* (``service=`` in the URL, else ``PGSERVICE``; looked up in
``servicefile=``/``PGSERVICEFILE``/``~/.pg_service.conf``, then in
``PGSYSCONFDIR/pg_service.conf``), then from the ``PG*`` environment variables (``PGHOST``,
``PGHOSTADDR``, ``PGDATABASE``). It then connects, for each comma-separated host slot, to the
slot's ``hostaddr`` when given (``host`` only names it for TLS and authentication), else to its
``host`` (a path or ``@name`` is a Unix socket), else to the default Unix socket. The local-only
guard must look at exactly those endpoints, every one of them: ``?hostaddr=192.0.2.1`` next to
``host=localhost`` connects to 192.0.2.1. (libpq's own ``PQconndefaults`` ignores an unknown
service silently, and psycopg's ``conninfo_to_dict`` applies no defaults, hence this module.)
"""

from __future__ import annotations

import configparser
import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path

from seedgen.errors import SafetyError

# Parameters that decide where a connection goes and to which database, with their variables.
ENV_VARS = {"host": "PGHOST", "hostaddr": "PGHOSTADDR", "dbname": "PGDATABASE"}
# The SYSCONFDIR compiled into the libpq of psycopg-binary (and Debian's libpq), used when
# PGSYSCONFDIR is not set. A service only defined elsewhere is refused, never guessed.
LIBPQ_SYSCONFDIR = "/etc/postgresql-common"
DEFAULT_SOCKET = "(default Unix socket)"


def resolve(params: Mapping[str, object], env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The conninfo's values, then its service's, then the environment's: libpq's order."""
    env = os.environ if env is None else env
    merged = {key: str(value) for key, value in params.items() if value is not None}
    service = merged["service"] if "service" in merged else env.get("PGSERVICE")
    if service is not None:
        for key, value in service_params(service, merged.get("servicefile"), env).items():
            merged.setdefault(key, value)  # a value the conninfo sets is never overridden
    for key, var in ENV_VARS.items():
        if key not in merged and var in env:
            merged[key] = env[var]
    return merged


def service_files(servicefile: str | None, env: Mapping[str, str]) -> list[Path]:
    """The files libpq searches for a service, in its order (the first defining it wins)."""
    user = servicefile or env.get("PGSERVICEFILE") or str(Path.home() / ".pg_service.conf")
    system = Path(env.get("PGSYSCONFDIR") or LIBPQ_SYSCONFDIR) / "pg_service.conf"
    return [Path(user), system]


def service_params(
    name: str, servicefile: str | None = None, env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The parameters of service ``name``; a service no file defines is refused."""
    files = service_files(servicefile, os.environ if env is None else env)
    for path in files:
        if path.is_file():
            section = _read_section(path, name)
            if section is not None:
                return section
    raise SafetyError(
        f"service {name!r} is defined in none of {', '.join(str(p) for p in files)}",
        hint="fix the service name (PGSERVICE or service= in the URL), or set PGSERVICEFILE "
        "to the file that defines it",
    )


def _read_section(path: Path, name: str) -> dict[str, str] | None:
    # libpq strips each line and allows no continuation lines, no ';' comments, no ':' keys.
    text = "\n".join(line.strip() for line in path.read_text().splitlines())
    parser = configparser.ConfigParser(
        interpolation=None,
        delimiters=("=",),
        comment_prefixes=("#",),
        strict=False,
        default_section="\0",
    )
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        first = str(exc).splitlines()[0]
        raise SafetyError(
            f"service file {path} is invalid: {first}",
            hint="fix the file (lines are [service] headers and key=value pairs)",
        ) from None
    return dict(parser[name]) if parser.has_section(name) else None


def endpoints(resolved: Mapping[str, str]) -> list[str]:
    """What each host slot connects to: its hostaddr, else its host, else the default socket."""
    hosts = _split(resolved.get("host", ""))
    addrs = _split(resolved.get("hostaddr", ""))
    if hosts and addrs and len(hosts) != len(addrs):
        raise SafetyError(
            f"could not match {len(hosts)} host name(s) to {len(addrs)} hostaddr value(s)",
            hint="give as many hostaddr values as host names, or only one of the two",
        )
    slots = max(len(hosts), len(addrs), 1)
    return [
        (addrs[i] if addrs else "") or (hosts[i] if hosts else "") or DEFAULT_SOCKET
        for i in range(slots)
    ]


def _split(value: str) -> list[str]:
    # libpq neither trims the elements nor drops empty ones ("a,,b" has an empty middle slot).
    return value.split(",") if value else []


def is_local(endpoint: str) -> bool:
    """Unix sockets, localhost and loopback addresses are on this machine."""
    if endpoint in (DEFAULT_SOCKET, "localhost") or endpoint.startswith(("/", "@")):
        return True
    try:
        address = ipaddress.ip_address(endpoint.removeprefix("[").removesuffix("]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback
