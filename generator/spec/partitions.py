"""Partitioned tables in a reflected database: the set fills the parent, PostgreSQL routes rows.

A partitioned parent is one table of the spec; its partitions are not (the loader COPYs into the
parent and each row lands in the partition its key selects). So that every row has a partition
by construction, an inferred partition key is drawn inside the partitions' bounds:

- ``LIST``: a choice over the listed values (with a ``DEFAULT`` partition, any value fits and the
  inferred strategy stays);
- ``RANGE`` on one integer, date or timestamp column: a range or window from the lowest lower
  bound to the highest upper bound, which must be contiguous unless a default partition exists;
- ``HASH``: every value has a partition (when every remainder has one), nothing to do.

A key this cannot bound (an expression, several columns, gaps without a default) is a plan-time
``SpecError`` that asks for a default partition or a written strategy. ``--create-schema`` makes
the partitions with ``CREATE TABLE … PARTITION OF parent FOR VALUES …`` (DDL entries of their
own, after the parent's); indexes and FKs on the parent reach every partition.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from generator.spec import strategies as st
from seedgen.errors import SpecError

_CATALOG = """
SELECT cn.nspname, c.relname, pn.nspname, p.relname, pg_get_expr(c.relpartbound, c.oid),
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
WHERE c.relispartition AND c.relkind IN ('r', 'p') ORDER BY 1, 2
"""
_KEYS = """
SELECT n.nspname, c.relname, pg_get_partkeydef(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'p' AND NOT c.relispartition ORDER BY 1, 2
"""
_LITERAL = re.compile(r"'((?:[^']|'')*)'|(MINVALUE|MAXVALUE)|(-?\d+(?:\.\d+)?)")


@dataclass
class Partitioning:
    """How one top-level parent is partitioned, and the bounds of its direct partitions."""

    strategy: str  # RANGE, LIST or HASH
    columns: list[str]  # empty for an expression key
    key: str  # pg_get_partkeydef: "RANGE (created_on)"
    lists: list[str] = field(default_factory=list)
    ranges: list[tuple[str, str]] = field(default_factory=list)
    has_default: bool = False


@dataclass(frozen=True)
class Partition:
    key: str  # the partition's table key ("sales_2024" or "billing.sales_2024")
    schema: str
    name: str
    parent: tuple[str, str]  # (schema, name)
    bound: str  # "FOR VALUES FROM (...) TO (...)", "DEFAULT", ...
    partition_by: str | None  # itself partitioned (sub-partitions)


def catalog(conn: Connection, key: Any) -> tuple[dict[str, Partitioning], list[Partition]]:
    """Top-level partitioned parents by table key, and every partition (parents first)."""
    parents: dict[str, Partitioning] = {}
    for schema, name, keydef in conn.execute(text(_KEYS)):
        strategy, _, cols = str(keydef).partition(" ")
        names = [c.strip().strip('"') for c in cols.strip("()").split(",")]
        plain = all(re.fullmatch(r"\w+", c) for c in names)
        parents[key(schema, name)] = Partitioning(strategy, names if plain else [], str(keydef))
    parts = [
        Partition(key(s, n), s, n, (ps, pn), str(bound), by)
        for s, n, ps, pn, bound, by in conn.execute(text(_CATALOG))
    ]
    for part in parts:
        info = parents.get(key(*part.parent))
        if info is None:
            continue
        literals = [m.group(1) or m.group(2) or m.group(3) for m in _LITERAL.finditer(part.bound)]
        if part.bound == "DEFAULT":
            info.has_default = True
        elif part.bound.startswith("FOR VALUES IN"):
            info.lists += literals
        elif part.bound.startswith("FOR VALUES FROM") and len(literals) == 2:
            info.ranges.append((literals[0], literals[1]))
    return parents, _ordered(parts, key)


def _ordered(parts: list[Partition], key: Any) -> list[Partition]:
    """Each partition after the partition it belongs to (sub-partitions)."""
    done: set[str] = set()
    out: list[Partition] = []
    pending = list(parts)
    while pending:
        ready = [p for p in pending if key(*p.parent) not in {q.key for q in pending}]
        for p in ready or pending:
            out.append(p)
            done.add(p.key)
        pending = [p for p in pending if p.key not in done]
    return out


def ddl(part: Partition) -> dict[str, object]:
    """The DDL entry that creates one partition of an existing parent."""
    q = ".".join(_quote(p) for p in (part.schema, part.name))
    parent = ".".join(_quote(p) for p in part.parent)
    by = f" PARTITION BY {part.partition_by}" if part.partition_by else ""
    return {
        "table": part.key,
        "statements": [f"CREATE TABLE {q} PARTITION OF {parent} {part.bound}{by}"],
    }


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def bounded(
    table: str, column: str, family: str, info: Partitioning, strat: st.Strategy
) -> st.Strategy:
    """``strat`` for partition key ``column``, drawn where a partition takes every value."""
    if info.strategy == "HASH" or info.has_default:
        return strat  # a default partition takes what no other does
    where = f"table {table}, partition key {column}"
    hint = "add a DEFAULT partition, or give the key a strategy in a spec file"
    if info.strategy == "LIST" and info.lists:
        return st.Choice(kind="choice", values=[v.replace("''", "'") for v in info.lists])
    if info.strategy != "RANGE" or not info.ranges:
        raise SpecError(f"{where}: no partition bounds to draw values in", hint=hint)
    if family not in ("int", "date", "timestamp"):
        raise SpecError(f"{where}: a RANGE key of type {family} is not supported", hint=hint)
    low, high = _span(where, info, hint, Decimal if family == "int" else _when)
    if family == "int":
        unique = isinstance(strat, st.Sequence) or bool(getattr(strat, "unique", False))
        return st.Range(kind="range", min=int(low), max=int(high) - 1, integer=True, unique=unique)
    start, end = _when(low), _when(high)
    step = timedelta(days=1) if family == "date" else timedelta(seconds=1)
    last: date | datetime = end - step
    first: date | datetime = start
    if family == "date":
        first, last = start.date(), (end - step).date()
    return st.Timestamp(kind="timestamp", start=first, end=last)


def _when(text: str) -> datetime:
    """A bound or window end as a naive UTC datetime (timestamptz bounds print an offset)."""
    moment = datetime.fromisoformat(text)
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _span(
    where: str, info: Partitioning, hint: str, value: Callable[[str], Decimal | datetime]
) -> tuple[str, str]:
    """[lowest lower bound, highest upper bound) of contiguous RANGE partitions, the bounds
    ordered as the key's values (``value``: as text, ``100`` would sort before ``2``)."""
    if any("VALUE" in v for span in info.ranges for v in span):
        raise SpecError(f"{where}: MINVALUE/MAXVALUE bounds are not supported", hint=hint)
    spans = sorted(info.ranges, key=lambda span: (value(span[0]), value(span[1])))
    if any(a[1] != b[0] for a, b in zip(spans, spans[1:], strict=False)):
        raise SpecError(f"{where}: the partitions' ranges have gaps", hint=hint)
    return spans[0][0], spans[-1][1]


def check_key(table: str, column: str, info: Partitioning, strat: st.Strategy) -> None:
    """A written strategy for a partition key of a parent with no DEFAULT partition: refused
    at plan time where some of its values would have no partition (what it cannot tell, the
    load's COPY does)."""
    if info.strategy == "HASH" or info.has_default:
        return
    where = f"table {table}, partition key {column}"
    hint = "draw it inside the partitions' bounds, or add a DEFAULT partition"
    if isinstance(strat, st.Nullable):
        raise SpecError(f"{where}: NULL has no partition", hint=hint)
    if info.strategy == "LIST" and isinstance(strat, st.Choice | st.Quota | st.Const):
        values = [strat.value] if isinstance(strat, st.Const) else strat.values
        listed = [v.replace("''", "'") for v in info.lists]
        if outside := [v for v in values if str(v) not in listed]:
            raise SpecError(f"{where}: {outside[0]!r} is in no partition's list", hint=hint)
    if info.strategy == "RANGE" and info.ranges and isinstance(strat, st.Range | st.Timestamp):
        low, high = _span(where, info, hint, Decimal if isinstance(strat, st.Range) else _when)
        if isinstance(strat, st.Range) and not float(low) <= strat.min <= strat.max < float(high):
            raise SpecError(
                f"{where}: [{strat.min}, {strat.max}] is not within [{low}, {high})", hint=hint
            )
        if isinstance(strat, st.Timestamp):
            first, last = (str(v) for v in (strat.start, strat.end))
            if not _when(low) <= _when(first) or not _when(last) < _when(high):
                raise SpecError(
                    f"{where}: {first}..{last} is not within [{low}, {high})", hint=hint
                )
