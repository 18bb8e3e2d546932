"""What a dataset provides to the engine, and the registry of datasets.

A dataset is a class with a settings model (its keys in ``config.json``), SQLAlchemy metadata,
and one ``TableGen`` per generated table: how many driving rows, which columns it produces and
a pure ``build(table, start, stop)`` that returns those columns for rows ``[start, stop)``.
Datasets are constructed in the parent process once (``resolve_context`` reads env/.env there,
so errors surface before any worker starts) and again inside each worker from the same
settings and context, which are plain data.

Datasets register under the entry point group ``seedgen.datasets`` (``name = "pkg.mod:Class"``
in a package's ``[project.entry-points."seedgen.datasets"]``), so a user's package can ship its
own; seedgen's ``pyproject.toml`` registers ``genonaut`` and ``spec`` the same way. ``BUILTIN``
repeats those two and is the fallback when seedgen's own package metadata is missing or stale
(a source checkout on ``PYTHONPATH``, an editable install made before the entry points existed):
the built-ins must work without an install step, a user's datasets need one anyway.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar, Literal

import pyarrow as pa
from sqlalchemy import MetaData

from seedgen.errors import ConfigError
from seedgen.manifest import ReferenceSpec
from seedgen.settings import GenerateSettings


@dataclass(frozen=True)
class TableGen:
    """How the engine drives one generated table."""

    name: str
    rows: int  # driving rows; for exploded tables, the parent rows
    produces: tuple[str, ...]
    batch_rows: int
    fanout: float = 1.0  # expected output rows per driving row (shard sizing)
    exploded: bool = False  # output row count is data-dependent
    key_ranges: dict[str, list[int]] = field(default_factory=dict)
    # Primary-key values (as text) this table deliberately shares with other sets and with the
    # application (an admin user from the environment, a fixed vocabulary): on ``--append`` a
    # row whose key is already there is the same entity, and the existing row is kept.
    shared_keys: tuple[str, ...] = ()
    # What ``--append`` does with a row whose unique column (not its key) matches an existing
    # row: "drop" it and the rows that reference it, or "remap" its references to that row.
    on_conflict: Literal["drop", "remap"] = "drop"
    # References the schema does not enforce (see ``seedgen.manifest.ReferenceSpec``).
    references: tuple[ReferenceSpec, ...] = ()
    # The table's schema; a table outside ``public`` is named ``schema.table`` in the set.
    schema_name: str = "public"
    # Nullable columns left out of the set altogether (COPY omits them: the database's default,
    # e.g. NULL, applies). A FK over such a column is then not the set's to follow on --append.
    omit: tuple[str, ...] = ()


class Dataset(ABC):
    # Class attributes of a built-in dataset; a spec dataset sets name and metadata per instance.
    name: str
    settings_model: ClassVar[type[GenerateSettings]]
    config_sections: ClassVar[tuple[str, ...]]
    # True when the dataset's own input (a spec file) carries its settings, so a config.json
    # without its section is normal and not worth a notice.
    config_optional: ClassVar[bool] = False
    metadata: MetaData
    # PostgreSQL extensions the schema needs (``load --create-schema`` creates allow-listed ones);
    # a spec dataset takes them from its spec, per instance.
    extensions: Sequence[str] = ()
    # SQL the loader runs after the rows are in (``post_load``; override that for steps that
    # depend on the settings).
    post_load_sql: ClassVar[tuple[str, ...]] = ()
    # One line for ``seedgen datasets`` and an example command for ``seedgen datasets NAME``.
    help: ClassVar[str] = ""
    example: ClassVar[str] = ""

    def __init__(self, settings: GenerateSettings, context: dict[str, Any]) -> None:
        self.settings = settings
        self.context = context

    @classmethod
    def resolve_context(cls, settings: GenerateSettings, env_file: Path) -> dict[str, Any]:
        """Inputs from outside the config (env vars), resolved once; plain JSON-able data."""
        return {}

    @abstractmethod
    def tables(self) -> list[TableGen]: ...

    def ddl(self) -> list[dict[str, object]]:
        """Statements that create the tables on a fresh database (manifest, --create-schema)."""
        from generator import schema

        return schema.compile_ddl(self.metadata)

    def post_load(self) -> list[str]:
        """SQL the loader runs after the rows are in (``seedgen.manifest.Manifest.post_load``):
        refresh a materialized view, fill a stats table by ``INSERT … SELECT`` over the set's
        tables. Each must recompute from the tables as they are (every load of the set, an
        ``--append`` too, runs them all); ``loader.post_load`` lists what is allowed."""
        return list(self.post_load_sql)

    @abstractmethod
    def build(self, table: str, start: int, stop: int) -> dict[str, pa.Array]: ...


ENTRY_POINT_GROUP = "seedgen.datasets"
BUILTIN = {
    "genonaut": "generator.datasets.genonaut.dataset:GenonautDataset",
    # Any spec (``seedgen generate --spec/--models/--from-database``); its context carries it.
    "spec": "generator.spec.dataset:SpecDataset",
}


def registered() -> dict[str, str]:
    """Dataset name -> ``module:Class``: the built-ins, then every ``seedgen.datasets`` entry.

    A name registered twice with different targets is refused (which one would run is an
    accident of install order).
    """
    found = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found and found[ep.name] != ep.value:
            raise ConfigError(
                f"dataset {ep.name!r} is registered twice: {found[ep.name]} and {ep.value}",
                hint=f"pip uninstall the package that registers {ep.value.partition(':')[0]}",
            )
        found[ep.name] = ep.value
    return found


def known_config_sections() -> list[str]:
    """Every config.json section some registered dataset reads (one nobody reads is a typo)."""
    return [section for name in registered() for section in dataset_class(name).config_sections]


def dataset_class(name: str) -> type[Dataset]:
    known = registered()
    target = known.get(name)
    if target is None:
        raise ConfigError(
            f"unknown dataset {name!r}",
            hint=f"registered datasets: {', '.join(sorted(known))} (seedgen datasets lists them)",
        )
    module, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"dataset {name!r} ({target}) cannot be loaded: {exc}",
            hint=f"reinstall or pip uninstall the package that provides {module}",
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Dataset)):
        raise ConfigError(
            f"dataset {name!r} ({target}) is not a generator.dataset.Dataset subclass",
            hint=f"point the {ENTRY_POINT_GROUP} entry point at a Dataset subclass",
        )
    return cls
