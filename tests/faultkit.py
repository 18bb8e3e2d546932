"""Tools for the fault-injection test (``tests/test_fault_recovery.py``).

- ``fingerprint``: what a database holds, compared semantically: per table the count and md5 of
  its ordered rows; every index, constraint and user trigger by kind, table and name, with the
  definition PostgreSQL prints, its validity and enable state; whether every sequence a column
  uses is past that column's largest value; and what the ledger claims about each set.
- ``printed_commands``: the recovery commands a message names, runnable: backticked
  ``seedgen …`` commands with SET/URL filled in, "pass --force", "without --resume" and "the
  same command" applied to the command that printed them.
- ``message_lies``: the claims an error message makes about the database, checked against it.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from tests.conftest import GENONAUT_TABLES, ROOT

OBJECTS = """
SELECT 'index', c.relname, ic.relname, pg_get_indexdef(i.indexrelid), i.indisvalid::text
  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid
 WHERE c.relnamespace = 'public'::regnamespace
UNION ALL
SELECT 'constraint', conrelid::regclass::text, conname,
       contype::text || ': ' || pg_get_constraintdef(oid), convalidated::text
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL
SELECT 'trigger', tgrelid::regclass::text, tgname, pg_get_triggerdef(oid), tgenabled::text
  FROM pg_trigger WHERE NOT tgisinternal
"""
# (sequence, table, column) for every nextval() default (owned or not) and identity column.
SEQUENCE_USES = """
SELECT d.refobjid::regclass::text, ad.adrelid::regclass::text, a.attname
  FROM pg_attrdef ad
  JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
   AND d.refclassid = 'pg_class'::regclass
  JOIN pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
  JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
 WHERE s.relnamespace = 'public'::regnamespace
UNION
SELECT d.objid::regclass::text, d.refobjid::regclass::text, a.attname
  FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
  JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
 WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
   AND d.deptype = 'i' AND s.relnamespace = 'public'::regnamespace
ORDER BY 1, 2, 3
"""
CLAIM = {"complete": "loaded", "repaired": "repaired", "running": "running"}


@dataclass(frozen=True)
class Fingerprint:
    rows: tuple[tuple[str, int, str], ...]
    objects: frozenset[tuple[str, str, str, str, str]]
    sequences: tuple[tuple[str, str, bool], ...]
    ledger: tuple[tuple[int, str, str], ...]  # (load id, set label, status)
    labels: tuple[str, ...]  # the sets the claims speak about

    @property
    def claims(self) -> tuple[tuple[str, str], ...]:
        """Per set: loaded, repaired, running or absent (the newest load not rolled back)."""
        latest = {label: status for _, label, status in self.ledger if status != "rolled_back"}
        return tuple((label, CLAIM.get(latest.get(label, ""), "absent")) for label in self.labels)

    @property
    def running(self) -> tuple[int, ...]:
        return tuple(i for i, _, status in self.ledger if status == "running")

    def state(self) -> tuple[object, ...]:
        """What must equal an uninterrupted run: content and what the ledger claims."""
        return self.content(), self.claims

    def content(self) -> tuple[object, ...]:
        return self.rows, self.objects, self.sequences

    def diff(self, other: Fingerprint) -> str:
        """What ``other`` (the expected state) has that this one lacks, and the reverse."""
        parts = []
        rows = [
            f"{a[0]} {a[1]} rows vs {b[1]}"
            for a, b in zip(self.rows, other.rows, strict=True)
            if a != b
        ]
        if rows:
            parts.append("rows differ: " + ", ".join(rows))
        missing = sorted(f"{o[0]} {o[2]} ({o[4]})" for o in other.objects - self.objects)
        extra = sorted(f"{o[0]} {o[2]} ({o[4]})" for o in self.objects - other.objects)
        if missing:
            parts.append(f"{len(missing)} object(s) missing or changed: {', '.join(missing[:8])}")
        if extra:
            parts.append(f"{len(extra)} object(s) unexpected: {', '.join(extra[:8])}")
        behind = [f"{s[0]} behind {s[1]}.{s[2]}" for s in self.sequences if not s[2]]
        if behind:
            parts.append("sequences " + ", ".join(behind))
        if self.claims != other.claims:
            parts.append(f"ledger claims {dict(self.claims)} vs {dict(other.claims)}")
        return "; ".join(parts) or "equal"


def fingerprint(url: str, labels: dict[str, str]) -> Fingerprint:
    """``labels`` maps a set directory (as the ledger records it) to its name in the claims."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = tuple(_table_digest(conn, table) for table in GENONAUT_TABLES)
        objects = frozenset(conn.execute(OBJECTS).fetchall())
        sequences = tuple(
            (seq, f"{table}.{column}", _sequence_ahead(conn, seq, table, column))
            for seq, table, column in conn.execute(SEQUENCE_USES).fetchall()
        )
        ledger: list[tuple[int, str, str]] = []
        if conn.execute("SELECT to_regclass('seedgen.loads')").fetchone()[0] is not None:
            ledger = conn.execute(
                "SELECT id, set_dir, status FROM seedgen.loads ORDER BY id"
            ).fetchall()
    return Fingerprint(
        rows,
        objects,
        sequences,
        tuple((i, labels.get(d, d), status) for i, d, status in ledger),
        tuple(sorted(labels.values())),
    )


def _table_digest(conn: psycopg.Connection, table: str) -> tuple[str, int, str]:
    query = sql.SQL(
        "SELECT count(*), coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '-') "
        "FROM {} t"
    ).format(sql.Identifier(table))
    count, digest = conn.execute(query).fetchone()
    return table, count, digest


def _sequence_ahead(conn: psycopg.Connection, seq: str, table: str, column: str) -> bool:
    """nextval() cannot return a value the column already holds."""
    query = sql.SQL(
        "SELECT (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {}) "
        ">= coalesce((SELECT max({}) FROM {}), 0)"
    ).format(sql.SQL(seq), sql.Identifier(column), sql.SQL(table))  # regclass text: quoted
    return bool(conn.execute(query).fetchone()[0])


_FK = re.compile(r"FOREIGN KEY \(([^)]*)\) REFERENCES ([\w.\"]+)\(([^)]*)\)")


def orphans(url: str, reference: Fingerprint) -> int:
    """Rows whose parent row is missing, for every foreign key of ``reference`` (the FKs
    themselves may be dropped right now)."""
    total = 0
    with psycopg.connect(url, autocommit=True) as conn:
        for kind, table, _name, definition, _valid in sorted(reference.objects):
            match = _FK.search(definition)
            if kind != "constraint" or not definition.startswith("f:") or match is None:
                continue
            child = [sql.Identifier(c.strip().strip('"')) for c in match[1].split(",")]
            parent = [sql.Identifier(c.strip().strip('"')) for c in match[3].split(",")]
            query = sql.SQL(
                "SELECT count(*) FROM {} c WHERE NOT EXISTS (SELECT 1 FROM {} p WHERE {}) "
                "AND ({}) IS NOT NULL"
            ).format(
                sql.SQL(table),  # regclass text, quoted as needed
                sql.SQL(match[2]),
                sql.SQL(" AND ").join(
                    sql.SQL("p.{} = c.{}").format(p, c) for p, c in zip(parent, child, strict=True)
                ),
                sql.SQL(", ").join(sql.SQL("c.{}").format(c) for c in child),
            )
            total += int(conn.execute(query).fetchone()[0])
    return total


# ---------------------------------------------------------------------------- running the CLI


@dataclass
class Run:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    failpoint: str | None = None
    signal_sent: str | None = None

    @property
    def text(self) -> str:
        return self.stdout + self.stderr

    def show(self, url: str) -> str:
        """One transcript entry: the command (URL abbreviated), exit code, messages."""
        cmd = " ".join(self.argv).replace(url, "URL")
        how = f" [SEEDGEN_FAILPOINT={self.failpoint}]" if self.failpoint else ""
        how += f" [{self.signal_sent} sent]" if self.signal_sent else ""
        lines = [
            line
            for line in self.text.splitlines()
            if line.startswith(("error:", "hint:", "interrupted:", "repaired", "reset:", "loaded"))
            or "Traceback" in line
            or "Error" in line
        ]
        return f"$ seedgen {cmd}{how} -> exit {self.returncode}\n" + "".join(
            f"    {line}\n" for line in lines[:6]
        )


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEEDGEN_FAILPOINT")}
    return {**env, **(extra or {})}


def start(argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "seedgen", *argv],
        cwd=ROOT,
        env=cli_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(argv: list[str], env: dict[str, str] | None = None, timeout: float = 180) -> Run:
    proc = start(argv, env)
    out, err = proc.communicate(timeout=timeout)
    return Run(argv, proc.returncode, out, err)


# ---------------------------------------------------------------------------- printed commands

_BACKTICKED = re.compile(r"`([^`]+)`")
_PASS = re.compile(r"\bpass (--[a-z-]+)")
_WITHOUT = re.compile(r"\bwithout (--[a-z-]+)")
_FLAGS = {"--force", "--resume", "--append"}  # load flags a hint may tell the user to add


@dataclass
class Commands:
    """The CLI's commands and their options, from the typer app itself."""

    options: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def of_cli(cls) -> Commands:
        import typer.main

        from seedgen.cli import app

        group = typer.main.get_command(app)
        commands = group.commands  # type: ignore[attr-defined]
        return cls(
            {name: {o for p in cmd.params for o in p.opts} for name, cmd in commands.items()}
        )

    def unknown(self, argv: list[str]) -> str | None:
        """Why ``argv`` (without the ``seedgen`` word) is not a command of the CLI, or None."""
        if not argv or argv[0] not in self.options:
            return f"no command {argv[:1]}"
        bad = [a for a in argv[1:] if a.startswith("--") and a not in self.options[argv[0]]]
        return f"{argv[0]} has no option {', '.join(bad)}" if bad else None


def printed_commands(
    text: str, by: list[str], set_dir: Path, url: str, cli: Commands
) -> tuple[list[list[str]], list[str]]:
    """The commands ``text`` (printed by the command ``by``) tells the user to run, filled in,
    in the order printed; and the problems with them (a command the CLI does not have)."""
    found: list[list[str]] = []
    problems: list[str] = []
    for line in text.splitlines():
        if not line.startswith(("error:", "hint:", "interrupted:", "repaired", "warning:")):
            continue
        for quoted in _BACKTICKED.findall(line):
            words = shlex.split(quoted)
            if words[0] == "seedgen":
                argv = _fill(words[1:], set_dir, url)
                problem = cli.unknown(argv)
                if problem:
                    problems.append(f"hint names `{quoted}`: {problem}")
                else:
                    found.append(argv)
            elif words[0] in _FLAGS and by[0] == "load":
                found.append(_with(by, words[0]))
        found += [_with(by, flag) for flag in _PASS.findall(line) if flag in _FLAGS]
        found += [[a for a in by if a != flag] for flag in _WITHOUT.findall(line)]
        if "same command" in line:
            found.append(list(by))
    unique: list[list[str]] = []
    for argv in found:
        if argv not in unique:
            unique.append(argv)
    return unique, problems


def _fill(words: list[str], set_dir: Path, url: str) -> list[str]:
    argv = [str(set_dir) if w == "SET" else url if w == "URL" else w for w in words]
    if argv[0] in ("load", "reset", "repair", "verify") and "--database-url" not in argv:
        argv += ["--database-url", url]
    return argv


def _with(argv: list[str], flag: str) -> list[str]:
    return argv if flag in argv else [*argv, flag]


# ---------------------------------------------------------------------------- true messages

_UNCHANGED = ("the database is as it was", "nothing was written", "nothing written")


def message_lies(text: str, label: str, before: Fingerprint, after: Fingerprint) -> list[str]:
    """The claims of ``text`` (about set ``label``) that the database contradicts."""
    lies = []
    if any(phrase in text for phrase in _UNCHANGED) and after.content() != before.content():
        lies.append(f"says the database is unchanged, but {after.diff(before)}")
    for pattern in (
        r"an interrupted load \(id (\d+)",
        r"load (\d+) of this set is unfinished",
        r"load (\d+) is resumable",
    ):
        for load_id in re.findall(pattern, text):
            if int(load_id) not in after.running:
                lies.append(f"says load {load_id} is unfinished; running loads: {after.running}")
    if ("no interrupted load" in text or "nothing to repair" in text) and after.running:
        lies.append(f"says no load is unfinished; running loads: {after.running}")
    for load_id, status in re.findall(r"seedgen\.loads id (\d+), (\w+)\)", text):
        if (int(load_id), label, status) not in after.ledger:
            lies.append(f"says load {load_id} of this set is {status}; ledger: {after.ledger}")
    if "has no load of this set" in text and any(
        lb == label and st not in ("rolled_back", "reset") for _, lb, st in after.ledger
    ):
        lies.append(f"says the ledger has no load of this set; ledger: {after.ledger}")
    nonempty = {table for table, count, _ in after.rows if count}
    for tables in re.findall(r"target tables already hold rows: ([\w, ]+)", text):
        empty = [t.strip() for t in tables.split(",") if t.strip() not in nonempty]
        if empty:
            lies.append(f"says {', '.join(empty)} hold rows; they are empty")
    return lies
