"""Infer a spec for a table nobody wrote one for: keys, references, types and column names.

- Primary keys: integer -> ``sequence``, uuid -> ``uuid``, text -> ``nanoid`` (keys are always
  pre-assigned, so children can compute them; the loader moves sequences past them).
- Foreign keys: the first column ``ref``s the parent, the others of a composite FK are
  ``copy_from_parent`` of it (one parent row per FK). Nullable FK columns get a null share.
- Unique columns: strategies that are bijections (a keyed permutation over a pool or a range).
- Other columns by name (``email``, ``first_name``, ``city``, ``created_at``/``updated_at``
  ordered, ``price`` lognormal at the column's scale, ...) and then by type (``numeric(p,s)``
  ranges that fit, ``varchar(n)`` cut to n, enums over their labels, arrays, JSON).
- Columns the database fills (DEFAULT, identity, generated) outside keys are left to it.
- Nullable columns get a 10 % null share.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from generator.spec import strategies as st
from generator.spec.model import Count, PerParent, TableSpec
from generator.spec.partitions import bounded
from generator.spec.resolve import unwrap
from generator.spec.shapes import apply_checks
from generator.spec.sources import ColumnInfo, TableInfo
from generator.spec.types import int_limit
from seedgen.errors import SpecError

DEFAULT_ROWS = 1000
_TIME = ("timestamp", "date")
NULL_SHARE = 0.1
_BY_NAME: list[tuple[str, str]] = [
    (r"e_?mail", "email"),
    (r"user_?name|login|handle", "user_name"),
    (r"first_?name|given_?name", "first_name"),
    (r"last_?name|surname|family_?name", "last_name"),
    (r"(full_?)?name$", "name"),
    (r"phone|mobile", "phone_number"),
    (r"url|website|link|avatar|logo", "url"),
    (r"city", "city"),
    (r"country", "country"),
    (r"company|organi[sz]ation", "company"),
    (r"street|address", "street_address"),
    (r"zip|postcode|postal", "postcode"),
    (r"state|province|region", "state"),
    (r"title|subject|headline", "sentence"),
    (r"description|body|content|comment|bio|text|note|message", "text"),
    (r"ip(_?address)?$", "ipv4"),
    (r"color|colour", "color_name"),
    (r"slug", "slug"),
]
_MONEY = re.compile(r"price|amount|cost|total|balance|salary|fee", re.I)
_UPDATED = re.compile(r"(updated|modified|changed)(_?at|_?on)?$", re.I)
_CREATED = ("created_at", "created", "createdAt", "created_on", "inserted_at")


def fill(info: TableInfo, infos: dict[str, TableInfo]) -> TableSpec:
    columns: dict[str, st.Strategy] = {}
    keys = _fk_strategies(info, infos)
    unique = info.unique_single()
    in_keys = {c for key in [info.primary_key, *info.uniques] for c in key}
    for name, column in info.columns.items():
        if name in keys:
            strat = keys[name]
        elif name == _key_column(info, keys):
            strat = _key(column)
        elif column.db_fills and column.type.family not in _TIME and name not in in_keys:
            strat = st.Default(kind="default")
        else:
            strat = _value(info, column, name in unique)
        if (
            column.nullable
            and name not in info.primary_key
            and not isinstance(strat, st.Default | st.Nullable)
        ):
            strat = st.Nullable(kind="nullable", share=NULL_SHARE, of=strat)
        columns[name] = strat
    per_parent = _groups(info, columns)
    _composite_keys(info, columns)
    apply_checks(info, columns)
    _partition_keys(info, columns)
    if per_parent is not None:
        return TableSpec(per_parent=per_parent, columns=columns)
    referenced = any(info.name == p for t in infos.values() for _, p, _ in t.foreign_keys)
    rows = DEFAULT_ROWS // 10 if referenced and not info.foreign_keys else DEFAULT_ROWS
    return TableSpec(rows=rows, columns=columns)


def _fk_strategies(info: TableInfo, infos: dict[str, TableInfo]) -> dict[str, st.Strategy]:
    """One ref per FK, copies for its other columns; a column an earlier FK already fills
    (overlapping composite FKs) becomes a ``match`` of the later FK's ref."""
    out: dict[str, st.Strategy] = {}
    # self-references last: a column another FK also fills is that FK's (see below)
    fks = sorted(info.foreign_keys, key=lambda fk: fk[1] == info.name)
    for child, parent, parent_cols in fks:
        pairs = dict(zip(child, parent_cols, strict=True))
        free = [c for c in child if c not in out]
        if parent not in infos or not free:
            continue
        anchor = free[0]
        match = {pairs[c]: c for c in child if c in out}
        out[anchor] = st.Ref(kind="ref", table=parent, column=pairs[anchor], match=match)
        if parent == info.name and match and info.columns[anchor].nullable:
            # a self-reference that must agree with another FK on a shared column (a category's
            # parent of the same user): an earlier row with that value is a lookup, not a
            # construction, so no row has a parent (NULL satisfies the FK: MATCH SIMPLE)
            ref = out[anchor].model_copy(update={"match": {}})
            out[anchor] = st.Nullable(kind="nullable", share=1.0, of=ref)
        for col in free[1:]:
            out[col] = st.CopyFromParent(kind="copy_from_parent", ref=anchor, column=pairs[col])
    return out


def _groups(info: TableInfo, columns: dict[str, st.Strategy]) -> PerParent | None:
    """A primary key of a plain ref and a matched ref (zbugs' issueLabel): rows in groups per
    parent of the plain ref, 1-3 each, the matched ref distinct within a group."""
    refs = {c: s for c in info.primary_key if isinstance(s := columns.get(c), st.Ref)}
    plain = [c for c, s in refs.items() if not s.match]
    matched = [c for c, s in refs.items() if s.match]
    if len(refs) != len(info.primary_key) or not plain or not matched:
        return None
    columns[matched[0]] = refs[matched[0]].model_copy(update={"distinct": True})
    count = Count(kind="uniform", min=1, max=3)
    return PerParent(table=refs[plain[0]].table, count=count)


def _partition_keys(info: TableInfo, columns: dict[str, st.Strategy]) -> None:
    """A partitioned parent's key drawn inside its partitions' bounds (``partitions.bounded``)."""
    part = info.partitioning
    if part is None:
        return
    if not part.columns and not (part.strategy == "HASH" or part.has_default):
        raise SpecError(
            f"table {info.name}: partition key {part.key} is an expression",
            hint="add a DEFAULT partition, or give its columns strategies in a spec file",
        )
    keys = part.columns if len(part.columns) == 1 else []
    if len(part.columns) > 1 and not (part.strategy == "HASH" or part.has_default):
        raise SpecError(
            f"table {info.name}: partition key {part.key} has several columns",
            hint="add a DEFAULT partition, or give its columns strategies in a spec file",
        )
    for name in keys:
        family = info.columns[name].type.family
        inner = bounded(info.name, name, family, part, unwrap(columns[name]))
        if inner is not unwrap(columns[name]):  # bounded: no NULL either (no partition takes it)
            columns[name] = inner


def _composite_keys(info: TableInfo, columns: dict[str, st.Strategy]) -> None:
    """Make each multi-column key unique by construction: its refs pick distinct combinations
    (a grid) when the key is all references; else its first plain column becomes unique."""
    for number, key in enumerate([info.primary_key, *info.uniques]):
        strats = [columns[c] for c in key]
        if len(key) < 2 or any(isinstance(s, st.Sequence | st.Uuid | st.Nanoid) for s in strats):
            continue
        if any(isinstance(s, st.Ref) and (s.match or s.distinct) for s in strats):
            continue
        refs = [c for c in key if isinstance(columns[c], st.Ref)]
        plain = [c for c in key if not isinstance(unwrap(columns[c]), st.Ref | st.CopyFromParent)]
        if not plain and refs:
            for c in refs:
                columns[c] = columns[c].model_copy(update={"grid": f"key{number}"})
        elif plain:
            columns[plain[0]] = _unique_version(info.columns[plain[0]], columns[plain[0]])


def _unique_version(column: ColumnInfo, strat: st.Strategy) -> st.Strategy:
    if isinstance(strat, st.Faker | st.Choice | st.Range | st.Uuid):
        return strat.model_copy(update={"unique": True})
    return _value_unique(column)


def _value_unique(column: ColumnInfo) -> st.Strategy:
    fam = column.type.family
    if fam in ("int", "decimal", "float"):
        return _number(column, True)
    if fam in ("date", "timestamp"):
        return _key(column)
    return _text(column, True)


def _key_column(info: TableInfo, keys: dict[str, st.Strategy]) -> str | None:
    """The primary-key column that gets a bijective key: the only one, or for a composite
    key the first one that is not a reference (that alone makes the key unique)."""
    free = [c for c in info.primary_key if c not in keys]
    return free[0] if free else None


def _key(column: ColumnInfo) -> st.Strategy:
    fam = column.type.family
    if fam == "int":
        return st.Sequence(kind="sequence")
    if fam == "uuid":
        return st.Uuid(kind="uuid")
    if fam == "text" and (column.type.length or 21) >= 21:
        return st.Nanoid(kind="nanoid")
    if fam in ("date", "timestamp"):  # a calendar: one row per day from 2024-01-01
        step = 86_400 if column.type.base == "date" else 1
        return st.Timestamp(
            kind="timestamp", start=date(2024, 1, 1), end=date(2199, 12, 31), step_seconds=step
        )
    return st.Sequence(kind="sequence")


def _value(info: TableInfo, column: ColumnInfo, unique: bool) -> st.Strategy:
    if column.choices:
        return st.Choice(kind="choice", values=list(column.choices), unique=unique)
    fam, name = column.type.family, column.name
    if fam == "text":
        return _text(column, unique)
    if fam in ("int", "decimal", "float"):
        return _number(column, unique)
    if fam == "timestamp" or fam == "date":  # unique: a calendar (one row per step)
        return _key(column) if unique else _time(info, column)
    simple: dict[str, Any] = {
        "bool": st.Bool(kind="bool"),
        "uuid": st.Uuid(kind="uuid", unique=unique),
        "json": st.Json(kind="json", fields={"note": st.Faker(kind="faker", provider="word")}),
        "array": st.ListOf(kind="list", values=["alpha", "beta", "gamma", "delta"], format="array"),
    }
    if fam in simple:
        return simple[fam]  # type: ignore[no-any-return]
    base = column.type.base
    if base in ("inet", "cidr"):
        return st.Faker(kind="faker", provider="ipv4", unique=unique)
    if base == "interval":
        return st.Choice(kind="choice", values=["1 hour", "1 day", "7 days", "30 days"])
    if base == "bytea":
        return st.Const(kind="const", value="\\x00")
    if base == "money":
        return st.Lognormal(kind="lognormal", median=20, sigma=0.8, scale=2)
    return st.Default(kind="default") if column.nullable else st.Const(kind="const", value=name)


def _text(column: ColumnInfo, unique: bool) -> st.Strategy:
    for pattern, provider in _BY_NAME:
        if re.search(pattern, column.name, re.I):
            return st.Faker(kind="faker", provider=provider, unique=unique)
    if unique:
        return (
            st.Nanoid(kind="nanoid")
            if (column.type.length or 21) >= 21
            else st.Sequence(kind="sequence")
        )
    return st.Faker(kind="faker", provider="word")


def _number(column: ColumnInfo, unique: bool) -> st.Strategy:
    pg = column.type
    top = int_limit(pg)
    high = float(min(top, 1000) if top is not None else 1000)
    if unique:
        return st.Range(kind="range", min=1, max=float(top or 2**62), integer=True, unique=True)
    if _MONEY.search(column.name):
        return st.Lognormal(
            kind="lognormal", median=min(20.0, high), sigma=0.8, max=high, scale=pg.scale
        )
    if pg.family == "int":
        return st.Range(kind="range", min=0, max=high)
    return st.Range(kind="range", min=0, max=high, scale=pg.scale)


def _time(info: TableInfo, column: ColumnInfo) -> st.Strategy:
    created = next((c for c in _CREATED if c in info.columns and c != column.name), None)
    if _UPDATED.search(column.name) and created:
        return st.After(kind="after", of=created, max_seconds=30 * 86_400)
    return st.Timestamp(kind="timestamp", start=date(2023, 1, 1), end=date(2025, 12, 31))
