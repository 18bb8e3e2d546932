"""Introspect SQLAlchemy models: column specs for the manifest, FK graph, compiled DDL.

Types are recorded as PostgreSQL's ``format_type`` spells them (``character varying(50)``,
``timestamp without time zone``) so the loader compares them with the live catalog by plain string
equality, and each gets the Arrow type the shards store it as.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa
from sqlalchemy import ForeignKeyConstraint, MetaData, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import (
    AddConstraint,
    CreateIndex,
    CreateSequence,
    CreateTable,
    sort_tables_and_constraints,
)
from sqlalchemy.types import TypeEngine

from seedgen.errors import SpecError
from seedgen.manifest import ColumnSpec, set_name

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it untyped

_PG_NAMES = {
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "SMALLINT": "smallint",
    "TEXT": "text",
    "BOOLEAN": "boolean",
    "FLOAT": "double precision",
    "DOUBLE PRECISION": "double precision",
    "REAL": "real",
    "DATE": "date",
    "UUID": "uuid",
    "JSONB": "jsonb",
    "JSON": "json",
    "TIMESTAMP WITHOUT TIME ZONE": "timestamp without time zone",
    "TIMESTAMP WITH TIME ZONE": "timestamp with time zone",
    "VARCHAR": "character varying",
    "CHAR": "character",
    "NUMERIC": "numeric",
}

_ARROW = {
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "smallint": pa.int16(),
    "boolean": pa.bool_(),
    "double precision": pa.float64(),
    "real": pa.float32(),
    "date": pa.date32(),
    "timestamp without time zone": pa.timestamp("us"),
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
}


def pg_type(sqltype: TypeEngine[Any]) -> str:
    """The ``format_type`` spelling of a SQLAlchemy type compiled for PostgreSQL."""
    compiled = sqltype.compile(dialect=_DIALECT)
    match = re.fullmatch(r"([A-Z ]+?)\s*(\(([\d, ]+)\))?", compiled)
    if not match or match.group(1) not in _PG_NAMES:
        return compiled.lower()
    name = _PG_NAMES[match.group(1)]
    args = match.group(3)
    return f"{name}({args.replace(' ', '')})" if args else name


def arrow_type(pg: str) -> pa.DataType:
    """How a PostgreSQL type travels in shards: native where exact, text otherwise."""
    return _ARROW.get(pg, pa.string())


def column_specs(table: Table) -> list[ColumnSpec]:
    return [
        ColumnSpec(
            name=col.name,
            pg_type=pg_type(col.type),
            nullable=bool(col.nullable),
            arrow_type=str(arrow_type(pg_type(col.type))),
        )
        for col in table.columns
    ]


def arrow_schema(columns: list[ColumnSpec]) -> pa.Schema:
    return pa.schema(
        [pa.field(c.name, arrow_type(c.pg_type), nullable=c.nullable) for c in columns]
    )


def primary_key(table: Table) -> list[str]:
    return [c.name for c in table.primary_key.columns]


def fk_parents(table: Table) -> set[str]:
    """Tables this one references (self-references excluded)."""
    return {fk.column.table.name for fk in table.foreign_keys} - {table.name}


def get_table(metadata: MetaData, name: str) -> Table:
    try:
        return metadata.tables[name]
    except KeyError as exc:
        raise SpecError(
            f"table {name!r} is not in the models",
            hint=f"known tables: {', '.join(sorted(metadata.tables))}",
        ) from exc


def sorted_tables(metadata: MetaData) -> list[Table]:
    """``metadata.sorted_tables`` (parents first), without its warning on an FK cycle: the FKs
    closing a cycle are left out of the order (``compile_ddl`` adds them with ``ALTER``)."""
    return [table for table, _ in _sort(metadata) if table is not None]


def _sort(metadata: MetaData) -> list[tuple[Table | None, list[ForeignKeyConstraint]]]:
    """Tables parents first, each with its FKs created inline; last ``(None, fks)``: the FKs
    that close a cycle (SQLAlchemy's sort, with ``metadata.sorted_tables``' tie order)."""
    tables = sorted(metadata.tables.values(), key=lambda t: t.key)
    return list(sort_tables_and_constraints(tables))  # type: ignore[no-untyped-call]


def compile_ddl(metadata: MetaData, only: set[str] | None = None) -> list[dict[str, object]]:
    """Per table, in dependency order, the statements that create it with its indexes.

    The loader runs these for ``--create-schema`` without importing any model code, so the
    shard set carries everything a fresh database needs. ``only``: the set's tables (and
    partitions); the sequences go with the first of them, whichever tables are left out.
    """
    out: list[dict[str, object]] = []
    sequences = [
        str(CreateSequence(seq, if_not_exists=True).compile(dialect=_DIALECT)).strip()
        for seq in metadata._sequences.values()
    ]
    ordered = _sort(metadata)
    deferred: dict[str, list[str]] = {}  # an FK closing a cycle: added once both tables exist
    for fk in ordered[-1][1] if ordered and ordered[-1][0] is None else []:
        add = str(AddConstraint(fk).compile(dialect=_DIALECT)).strip()
        deferred.setdefault(table_key(fk.table), []).append(add)
    schemas: set[str] = set()
    for table, inline in ordered:
        if table is None or (only is not None and table_key(table) not in only):
            continue
        statements = list(sequences) if not out else []
        if table.schema not in (None, "public", *schemas):  # its schema, once, before its first
            schemas.add(str(table.schema))
            quoted = str(table.schema).replace('"', '""')
            statements.insert(0, f'CREATE SCHEMA IF NOT EXISTS "{quoted}"')
        create = CreateTable(table, if_not_exists=True, include_foreign_key_constraints=inline)
        statements.append(str(create.compile(dialect=_DIALECT)).strip())
        for index in sorted(table.indexes, key=lambda ix: ix.name or ""):
            statements.append(
                str(CreateIndex(index, if_not_exists=True).compile(dialect=_DIALECT)).strip()
            )
        attach = table.info.get("attach")
        if attach:
            statements.append(str(attach))
        statements += deferred.get(table_key(table), [])
        out.append({"table": table_key(table), "statements": statements})
    from generator.spec.partitions import ddl  # partitions of reflected parents, after them

    parts = [ddl(part) for part in metadata.info.get("partitions", ())]
    return out + [d for d in parts if only is None or d["table"] in only]


def table_key(table: Table) -> str:
    """A table's name in a set: bare in ``public``, ``schema.table`` elsewhere."""
    return set_name(table.schema, table.name)
