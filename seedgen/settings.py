"""Settings: config.json sections, CLI overrides and env/.env, validated by pydantic.

Each dataset has one pydantic model (a subclass of ``GenerateSettings``) that is the single source
of truth for its keys, defaults, validation and CLI flags: ``config.json`` supplies a section, every
``--key value`` flag overrides one key (``--batch_size_content_items`` and
``--batch-size-content-items`` are the same flag), and unknown keys or bad values raise
``ConfigError`` naming the key and the valid choices.
"""

from __future__ import annotations

import difflib
import json
import os
import types
import typing
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from seedgen.errors import ConfigError, EnvError

M = TypeVar("M", bound=BaseModel)

DEFAULT_CONFIG = Path("config.json")
DEFAULT_ENV_FILE = Path("env/.env")


class GenerateSettings(BaseModel):
    """Engine options every dataset has. Dataset models add their own keys."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    seed: int = Field(42, ge=0, lt=2**63, description="master seed; same seed => same data")
    format: Literal["parquet", "csv"] = Field("parquet", description="shard file format")
    shard_rows: int = Field(100_000, ge=1, description="rows per shard file (generation memory)")
    batch_size_default: int = Field(
        100_000, ge=1, description="rows per COPY batch / Parquet row group for other tables"
    )
    max_workers: int = Field(0, ge=0, description="generator processes; 0 = one per core")
    key_offset: int = Field(
        0,
        ge=0,
        lt=2**31,
        description="added to every integer key; give each set you append to one database its "
        "own range",
    )

    def workers(self) -> int:
        return self.max_workers or (os.cpu_count() or 1)


# --------------------------------------------------------------------------- config file + flags


def _first_error(exc: ValidationError, section: str) -> ConfigError:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "(section)"
    help_hint = "`seedgen generate --help` lists every key with its default and meaning"
    if err["type"] == "extra_forbidden":
        return ConfigError(f"unknown config key '{key}' in {section}", hint=help_hint)
    got = err.get("input")
    return ConfigError(
        f"config key '{key}' in {section}: {err['msg']} (got {got!r})", hint=help_hint
    )


def _unknown_key_error(key: str, valid: list[str], where: str) -> ConfigError:
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return ConfigError(
        f"unknown config key '{key}' in {where}",
        hint=f"{hint}valid keys: {', '.join(valid)}",
    )


def read_config_section(
    path: Path | None,
    sections: tuple[str, ...],
    known: list[str] | None = None,
    dataset: str = "this dataset",
    echo: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Return the first of ``sections`` found in the JSON config file.

    No file, an empty file or no such section means the defaults, and ``echo`` is told so (once
    per call). A top-level section that is none of ``known`` (every dataset's sections) is a
    typo: refused, with the closest known name.
    """
    shown = path or DEFAULT_CONFIG
    raw = _read_config(path)
    if raw is None:
        _notice(echo, f"no {shown}: using the defaults for {dataset}")
        return {}
    unknown = [name for name in raw if name not in (known or list(sections))]
    if unknown:
        raise _unknown_section_error(shown, unknown[0], known or list(sections))
    present = [s for s in sections if s in raw]
    if len(present) > 1:
        raise ConfigError(
            f"{shown}: both {present[0]!r} and {present[1]!r} present; keep one",
            hint=f"merge them into {sections[0]!r}",
        )
    if not present:
        _notice(echo, f"{shown} has no section {sections[0]!r} for {dataset}: using the defaults")
        return {}
    section = raw[present[0]]
    if not isinstance(section, dict):
        raise ConfigError(
            f"{shown}: '{present[0]}' must be a JSON object",
            hint=f'write it as "{present[0]}": {{"key": value, ...}}',
        )
    return section


def _read_config(path: Path | None) -> dict[str, Any] | None:
    """The config file's object (``{}`` if blank); None if there is no default file."""
    if path is None and not DEFAULT_CONFIG.exists():
        return None
    shown = path or DEFAULT_CONFIG
    try:
        text = Path(shown).read_text()
    except FileNotFoundError:
        raise ConfigError(
            f"config file {shown} not found", hint="pass --config PATH to an existing file"
        ) from None
    if not text.strip():
        return {}  # an empty file: no section for anyone, said as such
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{shown}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            hint="fix the file (`python -m json.tool FILE` shows the spot), or pass --config",
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{shown}: top level must be a JSON object",
            hint='write it as {"seed_data": {"key": value, ...}}',
        )
    return raw


def _unknown_section_error(path: Path, name: str, known: list[str]) -> ConfigError:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return ConfigError(
        f"{path}: unknown section {name!r}",
        hint=f"{hint}sections seedgen reads: {', '.join(known)}",
    )


def _notice(echo: Callable[[str], None] | None, message: str) -> None:
    if echo is not None:
        echo(message)


def _annotation_kind(annotation: Any) -> str:
    """'list', 'dict', 'bool' or 'scalar', looking through Optional."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _annotation_kind(args[0]) if args else "scalar"
    if origin is list or annotation is list:
        return "list"
    if origin is dict or annotation is dict:
        return "dict"
    return "bool" if annotation is bool else "scalar"


def _parse_flag_value(model: type[BaseModel], key: str, text: str) -> Any:
    kind = _annotation_kind(model.model_fields[key].annotation)
    if kind == "list":
        if text.strip().startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    if kind == "dict":
        if text.strip().startswith("{"):
            return json.loads(text)
        pairs = [p.split("=", 1) for p in text.split(",") if p.strip()]
        if any(len(p) != 2 for p in pairs):
            raise ConfigError(
                f"--{key}: expected k=v,k=v or a JSON object (got {text!r})",
                hint=f"e.g. --{key.replace('_', '-')} a=1,b=2",
            )
        return {k.strip(): v.strip() for k, v in pairs}
    return text


def parse_overrides(model: type[BaseModel], args: list[str]) -> dict[str, Any]:
    """Turn ``--some-key value`` / ``--some_key=value`` tokens into ``{some_key: value}``."""
    valid = list(model.model_fields)
    out: dict[str, Any] = {}
    i = 0
    while i < len(args):
        token = args[i]
        if not token.startswith("--"):
            raise ConfigError(
                f"unexpected argument {token!r}", hint="options look like --key value"
            )
        name, eq, value = token[2:].partition("=")
        key = name.replace("-", "_")
        if key not in model.model_fields:
            raise _unknown_key_error(key, valid, "command-line flags")
        if not eq:
            if i + 1 >= len(args) or args[i + 1].startswith("--"):
                raise ConfigError(
                    f"--{name} needs a value", hint=f"--{name} VALUE or --{name}=VALUE"
                )
            i += 1
            value = args[i]
        try:
            out[key] = _parse_flag_value(model, key, value)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"--{name}: invalid JSON ({exc.msg})", hint='quote it for the shell: \'["a", "b"]\''
            ) from exc
        i += 1
    return out


def build_settings(
    model: type[M],
    section: dict[str, Any],
    overrides: dict[str, Any],
    where: str = "config.json",
) -> M:
    """Merge a config section with CLI overrides and validate with the dataset's model."""
    valid = list(model.model_fields)
    for key in section:
        if key not in model.model_fields:
            raise _unknown_key_error(key, valid, where)
    try:
        return model.model_validate({**section, **overrides})
    except ValidationError as exc:
        raise _first_error(exc, where) from exc


def describe_keys(model: type[BaseModel]) -> list[tuple[str, str, str]]:
    """(flag, default, description) for every key: the source of CLI help and README tables."""
    rows = []
    for key, field in model.model_fields.items():
        default = field.get_default(call_default_factory=True)
        rows.append(
            (
                f"--{key.replace('_', '-')}",
                json.dumps(default, default=str),
                field.description or "",
            )
        )
    return rows


# --------------------------------------------------------------------------- env/.env


def read_env_file(path: Path = DEFAULT_ENV_FILE) -> dict[str, str]:
    """Parse a dotenv file: KEY=VALUE lines, '#' comments, optional quotes, optional 'export'."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, eq, value = line.partition("=")
        if not eq or not key.strip().isidentifier():
            raise EnvError(f"{path}:{lineno}: not a KEY=VALUE line", hint="fix or remove it")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def env_value(name: str, env_file: Path = DEFAULT_ENV_FILE) -> str | None:
    """The process environment wins over the env file, as usual."""
    if name in os.environ:
        return os.environ[name]
    return read_env_file(env_file).get(name)


def require_uuid(name: str, env_file: Path = DEFAULT_ENV_FILE) -> uuid.UUID:
    """A UUID-valued variable; missing or invalid raises ``EnvError`` with a fresh UUID to copy."""
    value = env_value(name, env_file)
    try:
        if value:
            return uuid.UUID(value)
    except ValueError:
        pass
    problem = "is missing" if not value else f"is not a valid UUID ({value!r})"
    fresh = uuid.uuid4()
    raise EnvError(
        f"{name} must be present in {env_file} (or the environment) as a UUID; it {problem}",
        hint=f"here is a freshly generated one; copy this line into {env_file}:\n{name}={fresh}",
    )
