"""PostgreSQL types in a spec: spelling, the value family a type holds, and what fits it.

Types are kept as ``format_type`` spells them (``character varying(40)``), the spelling the
manifest records and the loader compares with the live catalog. A user may write the short forms
(``varchar(40)``, ``int8``, ``timestamptz``). Each strategy produces one *family* of values; a
column accepts the families its type can take from COPY text, and a mismatch is a plan-time
error naming the column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ALIASES = {
    "int": "integer",
    "int4": "integer",
    "serial": "integer",
    "int8": "bigint",
    "bigserial": "bigint",
    "int2": "smallint",
    "smallserial": "smallint",
    "bool": "boolean",
    "float8": "double precision",
    "double": "double precision",
    "float": "double precision",
    "float4": "real",
    "varchar": "character varying",
    "char": "character",
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
    "time": "time without time zone",
    "timetz": "time with time zone",
    "decimal": "numeric",
}
_SHAPE = re.compile(
    r"^\s*([a-z][a-z0-9_ ]*?(?:\.[a-z_][a-z0-9_]*)?)"  # a type, maybe schema-qualified (enums)
    r"\s*(\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*(\[\])?\s*$"
)
INT_RANGE = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": 2**63 - 1}


@dataclass(frozen=True)
class PgType:
    """A parsed type: base name, length or precision/scale, array flag."""

    base: str
    length: int | None = None
    scale: int | None = None
    array: bool = False

    @property
    def spelling(self) -> str:
        args = ""
        if self.length is not None:
            args = f"({self.length}" + (f",{self.scale})" if self.scale is not None else ")")
        return f"{self.base}{args}{'[]' if self.array else ''}"

    @property
    def family(self) -> str:
        if self.array:
            return "array"
        return _FAMILY.get(self.base, "other")


_FAMILY = {
    "smallint": "int",
    "integer": "int",
    "bigint": "int",
    "numeric": "decimal",
    "real": "float",
    "double precision": "float",
    "boolean": "bool",
    "text": "text",
    "character varying": "text",
    "character": "text",
    "citext": "text",
    "uuid": "uuid",
    "json": "json",
    "jsonb": "json",
    "date": "date",
    "timestamp without time zone": "timestamp",
    "timestamp with time zone": "timestamp",
}

#: Which value families each column family takes (COPY parses text into the column's type).
ACCEPTS = {
    "int": {"int"},
    "decimal": {"int", "float"},
    "float": {"int", "float"},
    "bool": {"bool"},
    "text": {"text", "int", "float", "uuid", "json", "bool", "date", "timestamp"},
    "uuid": {"uuid"},
    "json": {"json"},
    "date": {"date", "timestamp"},
    "timestamp": {"timestamp", "date"},
    "array": {"array"},
    "other": {"text", "int", "float", "bool", "uuid", "json", "date", "timestamp", "array"},
}


def parse_type(text: str) -> PgType:
    match = _SHAPE.match(text.lower())
    if not match:
        raise ValueError(f"cannot read type {text!r}")
    base = _ALIASES.get(match.group(1), match.group(1))
    length = int(match.group(3)) if match.group(3) else None
    scale = int(match.group(4)) if match.group(4) else None
    if base == "numeric" and length is not None and scale is None:
        scale = 0
    return PgType(base, length, scale, bool(match.group(5)))


def normalise(text: str) -> str:
    """``varchar(40)`` -> ``character varying(40)``; unknown names pass through lower-cased."""
    return parse_type(text).spelling


def accepts(pg: PgType, family: str) -> bool:
    """``number`` (a distribution) fits any numeric column: integer columns round it."""
    if family == "number":
        return bool(ACCEPTS[pg.family] & {"int", "float"})
    return family in ACCEPTS[pg.family]


def text_limit(pg: PgType) -> int | None:
    """The length a text value must fit (varchar(n), char(n)), else None."""
    return pg.length if pg.family == "text" else None


def int_limit(pg: PgType) -> int | None:
    if pg.base in INT_RANGE:
        return INT_RANGE[pg.base]
    if pg.base == "numeric" and pg.length is not None:
        digits: int = pg.length - (pg.scale or 0)
        return int(10**digits - 1)
    return None
