"""A resolved spec as an engine ``Dataset``: the same planner, workers, shards and manifest as
the built-in datasets.

``prepare`` runs in the parent process: it reads the spec, loads its tables (models, a live
database or the spec itself), resolves and checks everything, and returns plain JSON data (the
resolved spec, the table facts, the DDL). That is the dataset's context: each worker rebuilds
the ``SpecDataset`` from it without importing models or connecting anywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import Column, Enum, ForeignKeyConstraint, MetaData, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql.named_types import CreateEnumType

from generator import schema
from generator.dataset import Dataset, TableGen
from generator.spec import strategies as st
from generator.spec.model import DatasetSpec, TableSpec, read_spec
from generator.spec.resolve import ResolvedTable, resolve, unwrap
from generator.spec.runtime import Generator
from generator.spec.sources import (
    ColumnInfo,
    PgSpelled,
    TableInfo,
    load_models,
    reflect,
    spec_metadata,
    split_key,
    table_infos,
)
from generator.spec.types import int_limit, parse_type
from seedgen.errors import ConfigError, SpecError
from seedgen.settings import GenerateSettings


def prepare(
    spec_path: Path | None = None, models: str | None = None, database: str | None = None
) -> dict[str, Any]:
    """Read, resolve and check a spec (or infer one): the context of a ``SpecDataset``."""
    spec = read_spec(spec_path) if spec_path else None
    models = models or (spec.models if spec else None)
    if spec is None:
        spec = DatasetSpec(dataset=_default_name(models, database))
    if models or database:
        from generator.spec.infer import fill

        metadata = load_models(models) if models else reflect(str(database))
        resolved = resolve(spec, table_infos(metadata), fill)
    else:
        metadata = spec_metadata(spec)
        resolved = resolve(spec, table_infos(metadata), None)
    names = {t.name for t in resolved}
    seen: set[str] = set()
    partitions = {p.key for p in metadata.info.get("partitions", ())}
    ddl = [_with_enums(d, metadata, seen) for d in schema.compile_ddl(metadata, names | partitions)]
    return {
        "name": spec.dataset,
        "models": models,  # kept by ``resolved_spec``: a builder table's columns come from them
        "extensions": spec.extensions,
        "modules": spec.modules,
        "params": spec.params,
        "tables": [_dump(t) for t in resolved],
        "ddl": ddl,
        "post_load": list(spec.post_load),
    }


def _with_enums(ddl: dict[str, Any], metadata: MetaData, seen: set[str]) -> dict[str, Any]:
    """Native enum types a table uses, created before it for ``--create-schema`` (each type once,
    with the first table that uses it; the loader skips a type that already exists). A plain
    ``CREATE TYPE``: the loader's DDL allow-list (``loader.ddl``) runs no ``DO`` blocks."""
    tables = {schema.table_key(t): t for t in metadata.tables.values()}
    if ddl["table"] not in tables:  # a partition of a parent: it has the parent's types
        return ddl
    table = tables[str(ddl["table"])]
    creates = []
    for column in table.columns:
        kind = column.type
        named = f"{getattr(kind, 'schema', None)}.{getattr(kind, 'name', None)}"
        if isinstance(kind, Enum) and kind.native_enum and kind.name and named not in seen:
            seen.add(named)
            create = CreateEnumType(kind)
            creates.append(str(create.compile(dialect=postgresql.dialect())))  # type: ignore[no-untyped-call]
    statements = [str(s) for s in ddl["statements"]]  # after its schema, before its table
    schemas = [s for s in statements if s.startswith("CREATE SCHEMA")]
    rest = [s for s in statements if not s.startswith("CREATE SCHEMA")]
    return {**ddl, "statements": schemas + creates + rest}


def _default_name(models: str | None, database: str | None) -> str:
    if models:
        return models.partition(":")[0].replace(".", "_")
    return (database or "spec").rstrip("/").rsplit("/", 1)[-1].split("?")[0] or "spec"


def _dump(table: ResolvedTable) -> dict[str, Any]:
    info = table.info
    return {
        "name": table.name,
        "spec": table.spec.model_dump(mode="json"),
        "columns": [
            [c.name, c.type.spelling, c.nullable, c.db_fills] for c in info.columns.values()
        ],
        "primary_key": info.primary_key,
        "uniques": info.uniques,
        "foreign_keys": info.foreign_keys,
    }


def _load(data: dict[str, Any]) -> ResolvedTable:
    columns = {
        n: ColumnInfo(n, parse_type(t), nullable, fills)
        for n, t, nullable, fills in data["columns"]
    }
    fks = [(list(c), p, list(pc)) for c, p, pc in data["foreign_keys"]]
    info = TableInfo(data["name"], columns, data["primary_key"], data["uniques"], fks)
    return ResolvedTable(data["name"], info, TableSpec.model_validate(data["spec"]))


def resolved_spec(context: dict[str, Any]) -> DatasetSpec:
    """The complete spec a context holds, with each column's type: what --dry-run prints."""
    tables = {}
    for data in context["tables"]:
        table = _load(data)
        cols = {}
        for name, strat in table.spec.columns.items():
            info = table.info.columns.get(name)
            cols[name] = strat.model_copy(update={"type": info.type.spelling}) if info else strat
        tables[table.name] = table.spec.model_copy(update={"columns": cols})
    return DatasetSpec(
        dataset=context["name"],
        models=context.get("models"),
        extensions=context.get("extensions", []),
        modules=context.get("modules", []),
        params=context.get("params", {}),
        tables=tables,
        post_load=context.get("post_load", []),
    )


class SpecDataset(Dataset):
    name = "spec"
    help = "any schema: a spec file, SQLAlchemy models or a live database (no code)"
    example = "seedgen generate --spec examples/shop/shop.yaml --dry-run"
    settings_model = GenerateSettings
    config_sections = ("spec",)
    config_optional = True  # the spec file and the flags are its settings
    metadata = MetaData()

    def __init__(self, settings: GenerateSettings, context: dict[str, Any]) -> None:
        super().__init__(settings, context)
        self.name = context["name"]
        self.extensions = list(context.get("extensions", ()))
        self.resolved = [_load(t) for t in context["tables"]]
        self.gen = Generator(
            self.resolved,
            settings.seed,
            settings.key_offset,
            context.get("params"),
            tuple(context.get("modules", ())),
        )
        self.metadata = _shard_metadata(self.resolved)

    @classmethod
    def resolve_context(cls, settings: Any, env_file: Path) -> dict[str, Any]:
        raise ConfigError(
            "dataset 'spec' needs a spec or a schema",
            hint="seedgen generate --spec myspec.yaml (or --models pkg.models:Base)",
        )

    def tables(self) -> list[TableGen]:
        default = self.settings.batch_size_default
        return [table_gen(t, self.gen, default, self._key_ranges(t)) for t in self.resolved]

    def _key_ranges(self, table: ResolvedTable) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        if table.spec.builder is not None:
            return out
        rows = self.gen.rows[table.name]
        for col in table.produced:
            strat = table.spec.columns[col]
            if not isinstance(strat, st.Sequence) or rows == 0:
                continue
            low = strat.start + self.settings.key_offset
            high = low + rows - 1
            limit = int_limit(table.info.columns[col].type)
            if limit is not None and high > limit:
                raise SpecError(
                    f"table {table.name}, column {col}: keys up to {high:,} exceed "
                    f"{table.info.columns[col].type.spelling} (max {limit:,})",
                    hint="use a bigint column, fewer rows, or a smaller --key-offset",
                )
            out[col] = [low, high]
        return out

    def build(self, table: str, start: int, stop: int) -> dict[str, pa.Array]:
        return self.gen.build(table, start, stop)

    def ddl(self) -> list[dict[str, object]]:
        return list(self.context["ddl"])

    def post_load(self) -> list[str]:
        return list(self.context.get("post_load", []))


def table_gen(
    t: ResolvedTable, gen: Generator, batch: int, key_ranges: dict[str, list[int]] | None = None
) -> TableGen:
    """How the engine drives a spec table: its spec, and for a builder that returned a
    ``BuiltTable`` the plan fields its code computed (those win)."""
    built = gen.built.get(t.name)
    fanout = built.fanout if built is not None and built.fanout is not None else _fanout(t)
    return TableGen(
        t.name,
        gen.rows[t.name],
        tuple(t.produced),
        t.spec.batch_rows or batch,
        fanout=fanout or 1.0,
        exploded=fanout is not None,
        key_ranges=(built.key_ranges if built else {}) or dict(key_ranges or {}),
        shared_keys=(built.shared_keys if built else ()) or tuple(t.spec.shared_keys),
        on_conflict=t.spec.on_conflict,
        references=built.references if built else (),
        schema_name=split_key(t.name)[0],
        omit=built.omit if built else (),
    )


def _fanout(table: ResolvedTable) -> float | None:
    """Output rows per driving row of an exploded builder table (None: one row per row)."""
    return table.spec.builder.fanout if table.spec.builder is not None else None


def _shard_metadata(tables: list[ResolvedTable]) -> MetaData:
    """What the shards hold: produced columns only (the database fills the rest), with the
    FKs between generated tables (the plan orders tables by them). Only FKs to an earlier table
    of the resolved order are kept: a self-reference or the FK that closes a cycle is no
    ordering edge (keys are pre-assigned; the loader adds such FKs after the rows)."""
    metadata = MetaData()
    names: set[str] = set()
    for table in tables:
        names.add(table.name)  # the tables before this one, and itself
        produced = set(table.produced)
        cols = [
            Column(
                c.name,
                PgSpelled(c.type.spelling),
                nullable=c.nullable,
                primary_key=c.name in table.info.primary_key,
            )
            for c in table.info.columns.values()
            if c.name in produced
        ]
        fks = [
            ForeignKeyConstraint(child, [f"{parent}.{p}" for p in parent_cols])
            for child, parent, parent_cols in table.info.foreign_keys
            if parent in names and set(child) <= produced and parent != table.name
        ]
        Table(table.name, metadata, *cols, *fks)
    for table in tables:  # a per_parent table follows its parent even without an FK
        pp = table.spec.per_parent
        if pp and not any(p == pp.table for _, p, _ in table.info.foreign_keys):
            metadata.tables[table.name].info["after"] = pp.table
    return metadata


__all__ = ["SpecDataset", "prepare", "resolved_spec", "unwrap"]
