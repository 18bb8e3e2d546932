"""Where a spec's tables come from: SQLAlchemy models, a live database, or the spec itself.

All three end as a SQLAlchemy ``MetaData`` (models are imported, a database is reflected, a
standalone spec is turned into tables with the types it declares), and ``table_infos`` reads
what the planner needs from it: columns with their PostgreSQL type, nullability and whether the
database fills them, primary key, unique keys and foreign keys. The same metadata compiles to
the DDL the manifest carries for ``load --create-schema``.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
    create_engine,
    inspect,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import UserDefinedType

from generator import schema
from generator.spec import strategies as st
from generator.spec.model import DatasetSpec
from generator.spec.partitions import Partitioning, catalog
from generator.spec.types import PgType, normalise, parse_type
from seedgen.errors import SpecError
from seedgen.manifest import qualified_name, set_name


class PgSpelled(UserDefinedType[Any]):
    """A column type known only by its PostgreSQL spelling (``character varying(40)``)."""

    cache_ok = True

    def __init__(self, spelling: str) -> None:
        self.spelling = spelling

    def get_col_spec(self, **_kw: Any) -> str:
        return self.spelling


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: PgType
    nullable: bool
    db_fills: bool  # a server default, identity or generated expression
    choices: tuple[str, ...] | None = None  # labels of an enum type


@dataclass
class TableInfo:
    name: str
    columns: dict[str, ColumnInfo]
    primary_key: list[str]
    uniques: list[list[str]] = field(default_factory=list)
    foreign_keys: list[tuple[list[str], str, list[str]]] = field(default_factory=list)
    checks: list[tuple[str, str]] = field(default_factory=list)  # (name, SQL expression)
    partitioning: Partitioning | None = None  # a partitioned parent (reflected databases)

    def unique_single(self) -> set[str]:
        keys = [self.primary_key, *self.uniques]
        return {k[0] for k in keys if len(k) == 1}


def load_models(target: str) -> MetaData:
    """``package.module:Base`` (declarative base) or ``package.module:metadata``."""
    module_name, _, attr = target.partition(":")
    if os.getcwd() not in sys.path:  # like uvicorn/alembic: the app's package from where we run
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SpecError(
            f"cannot import models module {module_name!r}: {exc}",
            hint="pass --models package.module:Base with the package importable (pip install -e .)",
        ) from exc
    obj = getattr(module, attr or "metadata", None)
    metadata = obj if isinstance(obj, MetaData) else getattr(obj, "metadata", None)
    if not isinstance(metadata, MetaData):
        raise SpecError(
            f"{target}: not a SQLAlchemy declarative base or MetaData",
            hint="point at the declarative Base class or a MetaData object: pkg.models:Base",
        )
    return metadata


SYSTEM_SCHEMAS = ("information_schema", "seedgen")  # and pg_*: catalogs, the loader's ledger


table_key, split_key = set_name, qualified_name  # "billing.invoices" <-> (billing, invoices)


def reflect(url: str, schema_name: str | None = None) -> MetaData:
    """The live schema, as the app's migrations made it (SQLAlchemy reflection): every schema
    but the system ones, each table keyed ``schema.table`` outside ``public``. Partitions are
    not tables of the spec (their parent is); ``metadata.info`` keeps them for the DDL."""
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    metadata = MetaData()
    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            schemas = [schema_name] if schema_name else _user_schemas(conn)
            for name in schemas:
                metadata.reflect(conn, schema=None if name == "public" else name)
            parents, parts = catalog(conn, table_key)
        engine.dispose()
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise SpecError(f"cannot reflect the database: {reason}") from exc
    for part in parts:
        if part.key in metadata.tables:
            metadata.remove(metadata.tables[part.key])
    for key, info in parents.items():
        if key in metadata.tables:
            metadata.tables[key].dialect_options["postgresql"]["partition_by"] = info.key
    metadata.info["partitioning"], metadata.info["partitions"] = parents, parts
    return metadata


def _user_schemas(conn: Any) -> list[str]:
    names = inspect(conn).get_schema_names()
    return sorted(n for n in names if n not in SYSTEM_SCHEMAS and not n.startswith("pg_"))


def table_infos(metadata: MetaData) -> dict[str, TableInfo]:
    parts: dict[str, Partitioning] = metadata.info.get("partitioning", {})
    infos = {}
    for table in schema.sorted_tables(metadata):
        info = _table_info(table)
        info.partitioning = parts.get(info.name)
        infos[info.name] = info
    return infos


def _table_info(table: Table) -> TableInfo:
    columns = {}
    for col in table.columns:
        fills = bool(
            col.server_default is not None or col.identity is not None or col.computed is not None
        ) or (col.autoincrement is True and col.primary_key)
        labels = getattr(col.type, "enums", None)
        columns[col.name] = ColumnInfo(
            col.name,
            parse_type(schema.pg_type(col.type)),
            bool(col.nullable),
            fills,
            tuple(labels) if labels else None,
        )
    # sorted: reflection returns constraints in no fixed order, and inference must not vary
    uniques = sorted(
        [c.name for c in con.columns]
        for con in table.constraints
        if isinstance(con, UniqueConstraint)
    )
    uniques += sorted(
        [c.name for c in ix.columns] for ix in table.indexes if ix.unique and ix.columns
    )
    fks = sorted(
        (
            [e.parent.name for e in con.elements],
            table_key(con.elements[0].column.table.schema, con.elements[0].column.table.name),
            [e.column.name for e in con.elements],
        )
        for con in table.constraints
        if isinstance(con, ForeignKeyConstraint)
    )
    checks = sorted(
        (str(con.name or f"{table.name}_check"), str(con.sqltext))
        for con in table.constraints
        if isinstance(con, CheckConstraint)
    )
    key = table_key(table.schema, table.name)
    return TableInfo(key, columns, schema.primary_key(table), uniques, fks, checks)


# --------------------------------------------------------------------------- standalone specs

DEFAULT_TYPES = {
    "sequence": "bigint",
    "uuid": "uuid",
    "nanoid": "character varying(32)",
    "bool": "boolean",
    "timestamp": "timestamp without time zone",
    "range": "double precision",
    "normal": "double precision",
    "lognormal": "double precision",
    "exponential": "double precision",
    "pareto": "double precision",
    "json": "jsonb",
}


def spec_metadata(spec: DatasetSpec) -> MetaData:
    """Tables built from a spec with no models: each column's ``type`` (or its kind's
    default), NOT NULL unless ``nullable``, the primary and unique keys it names, and one FK
    per ``ref`` column."""
    metadata = MetaData()
    for name, table in spec.tables.items():
        cols, fks = [], []
        for col_name, strat in table.columns.items():
            if strat.hidden:
                continue
            cols.append(
                Column(
                    col_name,
                    PgSpelled(_declared_type(spec, name, col_name)),
                    nullable=may_be_null(table.columns, strat),
                    unique=strat.unique and [col_name] != table.primary_key,
                )
            )
            inner = strat.of if isinstance(strat, st.Nullable) else strat
            if isinstance(inner, st.Ref):
                parent = parent_column(spec, inner, f"table {name}, column {col_name}")
                fks.append(ForeignKeyConstraint([col_name], [f"{inner.table}.{parent}"]))
        extra = [UniqueConstraint(*u) for u in table.unique]
        pk = [PrimaryKeyConstraint(*table.primary_key)] if table.primary_key else []
        schema_name, relation = split_key(name)
        owner = None if schema_name == "public" else schema_name
        Table(relation, metadata, *cols, *pk, *extra, *fks, schema=owner)
    return metadata


def may_be_null(columns: dict[str, st.Strategy], strat: st.Strategy) -> bool:
    """A nullable strategy, or a copy through a ref that may be NULL."""
    if isinstance(strat, st.Nullable):
        return True
    if isinstance(strat, st.CopyFromParent) and strat.ref in columns:
        return may_be_null(columns, columns[strat.ref])
    return False


def unknown(what: str, name: str, known: list[str], where: str) -> SpecError:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return SpecError(f"{what} '{name}' is not in {where}", hint=f"{hint}known: {', '.join(known)}")


def parent_column(spec: DatasetSpec, ref: st.Ref, where: str) -> str:
    if ref.table not in spec.tables:
        raise unknown(f"{where}: table", ref.table, list(spec.tables), "the spec")
    if ref.column:
        return ref.column
    pk = spec.tables[ref.table].primary_key
    if len(pk) != 1:
        raise SpecError(
            f"{where}: table {ref.table} has no single-column primary key",
            hint="name the parent column: {kind: ref, table: ..., column: ...}",
        )
    return pk[0]


def _declared_type(spec: DatasetSpec, table: str, column: str) -> str:
    strat = spec.tables[table].columns[column]
    inner = strat.of if isinstance(strat, st.Nullable) else strat
    text = strat.type or inner.type
    if text is None and isinstance(inner, st.Ref):
        parent = parent_column(spec, inner, f"table {table}, column {column}")
        if inner.table in spec.tables and parent in spec.tables[inner.table].columns:
            return _declared_type(spec, inner.table, parent).replace("bigserial", "bigint")
    if text is None:
        text = DEFAULT_TYPES.get(inner.kind, "text")
    try:
        return normalise(text)
    except ValueError as exc:
        raise SpecError(f"table {table}, column {column}: {exc}") from exc
