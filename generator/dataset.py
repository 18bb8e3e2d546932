"""What a dataset provides to the engine, and the registry of built-in datasets.

A dataset is a class with a settings model (its keys in ``config.json``), SQLAlchemy metadata,
and one ``TableGen`` per generated table: how many driving rows, which columns it produces and
a pure ``build(table, start, stop)`` that returns those columns for rows ``[start, stop)``.
Datasets are constructed in the parent process once (``resolve_context`` reads env/.env there,
so errors surface before any worker starts) and again inside each worker from the same
settings and context, which are plain data.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
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


class Dataset(ABC):
    # Class attributes of a built-in dataset; a spec dataset sets name and metadata per instance.
    name: str
    settings_model: ClassVar[type[GenerateSettings]]
    config_sections: ClassVar[tuple[str, ...]]
    metadata: MetaData
    extensions: ClassVar[list[str]] = []

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

    @abstractmethod
    def build(self, table: str, start: int, stop: int) -> dict[str, pa.Array]: ...


DATASETS = {
    "genonaut": "generator.datasets.genonaut.dataset:GenonautDataset",
    # Any spec (``seedgen generate --spec/--models/--from-database``); its context carries it.
    "spec": "generator.spec.dataset:SpecDataset",
}


def known_config_sections() -> list[str]:
    """Every config.json section some built-in dataset reads (a section nobody reads is a typo)."""
    return [section for name in DATASETS for section in dataset_class(name).config_sections]


def dataset_class(name: str) -> type[Dataset]:
    target = DATASETS.get(name)
    if target is None:
        raise ConfigError(
            f"unknown dataset {name!r}", hint=f"built-in datasets: {', '.join(sorted(DATASETS))}"
        )
    module, _, attr = target.partition(":")
    cls: type[Dataset] = getattr(importlib.import_module(module), attr)
    return cls
