"""One error base for everything seedgen reports to a user.

Every error carries a one-line message that says what is wrong and a hint that says what to do
next: the ``hint=`` given where it is raised, else its class's ``default_hint`` (every class has
one, naming a command that works), so no error reaches a user without its ``hint:`` line. The CLI
catches ``SeedgenError`` only, prints ``error: <message>`` and the hint, and exits with the class's
``exit_code`` (README, "CLI reference", lists them; a test keeps the two equal); any other
exception is a bug and keeps its traceback (exit 1, like the base class).
"""

from __future__ import annotations


class SeedgenError(Exception):
    """Base of every user-facing error: a message plus a 'what now' hint.

    Raised as such only for what fits no subclass (no PostgreSQL server for the demo/tests).
    """

    exit_code = 1
    default_hint = "`seedgen --help` lists the commands; `seedgen COMMAND --help` their options"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint: str = hint or self.default_hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})"


class ConfigError(SeedgenError):
    """config.json or a CLI override is invalid: unknown key, wrong type, out of range."""

    exit_code = 2
    default_hint = "`seedgen generate --help` lists every key with its default"


class EnvError(SeedgenError, RuntimeError):
    """A required environment variable (env/.env or the process environment) is missing or bad.

    A ``RuntimeError`` subclass, as the genonaut spec asks for the admin UUID check.
    """

    exit_code = 2
    default_hint = "copy env/.env.example to env/.env and edit it (the environment wins over it)"


class SpecError(SeedgenError):
    """A dataset or model definition cannot be planned (cycle, unknown FK target, bad column)."""

    exit_code = 2
    default_hint = (
        "fix the dataset definition; `seedgen generate DATASET --dry-run` checks it without writing"
    )


class ManifestError(SeedgenError):
    """A shard set is unreadable, incomplete, corrupted or from an unknown format version."""

    exit_code = 3
    default_hint = "regenerate the set: `seedgen generate DATASET --force --out SET`"


class SafetyError(SeedgenError):
    """The target database is not one seedgen may write to (name guard, bad URL)."""

    exit_code = 4
    default_hint = "`seedgen load --help` describes the guards (--allow-any-name, --allow-remote)"


class SchemaMismatchError(SeedgenError):
    """The live database's tables do not match the shard set's schema."""

    exit_code = 5
    default_hint = (
        "`seedgen load SET --database-url URL --dry-run` checks the tables, writing nothing; "
        "--create-schema creates the missing ones from the set"
    )


class LoadError(SeedgenError):
    """The load failed; the message says what state the database was left in."""

    exit_code = 6
    default_hint = (
        "the lines above say the database's state; `seedgen repair --database-url URL` "
        "restores what an unfinished load dropped"
    )


class VerifyError(SeedgenError):
    """``seedgen verify`` found problems (each printed above as a FAIL line)."""

    exit_code = 7
    default_hint = (
        "each FAIL line above names a problem; fix it, then run `seedgen verify SET "
        "--database-url URL` again"
    )
