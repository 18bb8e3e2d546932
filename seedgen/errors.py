"""One error base for everything seedgen reports to a user.

Every error carries a one-line message that says what is wrong and a ``hint`` that says what to do
next. The CLI catches ``SeedgenError`` only, prints ``error: <message>`` and the hint, and exits
non-zero; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class SeedgenError(Exception):
    """Base of every user-facing error: a message plus an optional 'what now' hint."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class ConfigError(SeedgenError):
    """config.json or a CLI override is invalid: unknown key, wrong type, out of range."""

    exit_code = 2


class EnvError(SeedgenError, RuntimeError):
    """A required environment variable (env/.env or the process environment) is missing or bad.

    A ``RuntimeError`` subclass, as the genonaut spec asks for the admin UUID check.
    """

    exit_code = 2


class SpecError(SeedgenError):
    """A dataset or model definition cannot be planned (cycle, unknown FK target, bad column)."""

    exit_code = 2


class ManifestError(SeedgenError):
    """A shard set is unreadable, incomplete, corrupted or from an unknown format version."""

    exit_code = 3


class SafetyError(SeedgenError):
    """The target database is not one seedgen may write to (name guard, bad URL)."""

    exit_code = 4


class SchemaMismatchError(SeedgenError):
    """The live database's tables do not match the shard set's schema."""

    exit_code = 5


class LoadError(SeedgenError):
    """The load failed; the message says what state the database was left in."""

    exit_code = 6
