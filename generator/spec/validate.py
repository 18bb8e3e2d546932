"""Plan-time checks of one resolved table, before any row exists.

Each failure is one ``SpecError`` naming the table and column and what to change: NOT NULL
columns covered unless the database fills them, references that resolve, strategies that fit
their column's type, every foreign key produced from one parent row, every key (primary,
unique, composite) unique by construction, every CHECK of a shape inference satisfies.
"""

from __future__ import annotations

from generator.spec import shapes
from generator.spec import strategies as st
from generator.spec.sources import ColumnInfo, may_be_null, unknown
from generator.spec.tables import ResolvedTable, column_of, dependencies, unwrap, writes
from generator.spec.types import accepts
from seedgen.errors import SpecError


def check_table(table: ResolvedTable, tables: dict[str, ResolvedTable]) -> None:
    spec, info = table.spec, table.info
    if spec.rows is None and spec.per_parent is None and spec.builder is None:
        raise SpecError(
            f"table {table.name}: no row count", hint="add rows: N or per_parent: {table, count}"
        )
    if spec.builder is not None:
        _check_builder(table)
        return
    if spec.per_parent and spec.per_parent.count.kind == "list":
        pp = spec.per_parent
        where = f"table {table.name}: per_parent list column"
        listed = column_of(tables, pp.table, str(pp.count.column), where)
        if not isinstance(listed, st.ListOf):
            raise SpecError(
                f"{where} {pp.table}.{pp.count.column} is not of kind list",
                hint="count kind list explodes a column of kind list",
            )
    if spec.per_parent and spec.per_parent.table not in tables:
        raise unknown(
            f"table {table.name}: per_parent table", spec.per_parent.table, list(tables), "the spec"
        )
    driver = spec.per_parent
    if driver and tables[driver.table].spec.builder and tables[driver.table].spec.rows is None:
        raise SpecError(
            f"table {table.name}: per_parent table {driver.table} is sized by its builder, "
            "after the tables it could drive",
            hint=f"give tables.{driver.table}.rows, or size {table.name} with rows: N",
        )
    for col, column in info.columns.items():
        strat = spec.columns.get(col)
        _check_covered(table.name, column, strat, spec.columns)
        if strat is not None and not isinstance(strat, st.Default):
            _check_refs(table, col, strat, tables)
            _check_fit(table, col, column, strat, tables)
    for col, strat in spec.columns.items():
        if col not in info.columns:
            _check_refs(table, col, strat, tables)
    _check_foreign_keys(table, tables)
    _check_composite_keys(table)
    shapes.check_table(table)


def _check_builder(table: ResolvedTable) -> None:
    """A builder table writes columns of the table, every NOT NULL one the database does not
    fill among them (what it writes in them is the builder's promise, checked at COPY)."""
    built = table.spec.builder
    assert built is not None
    named = built.columns or []
    for col in named:
        if col not in table.info.columns:
            raise unknown(
                f"table {table.name}: builder column", col, list(table.info.columns), "the table"
            )
    produced = set(table.produced)
    for col, info in table.info.columns.items():
        if col not in produced and not info.nullable and not info.db_fills:
            raise SpecError(
                f"table {table.name}, column {col}: NOT NULL but not among the builder's columns",
                hint=f"add {col} to builder.columns",
            )


_BIJECTIVE = (st.Sequence, st.Uuid, st.Nanoid)


def _non_null(strat: st.Strategy | None) -> st.Strategy | None:
    return strat.of if isinstance(strat, st.Nullable) else strat


def _bijective(strat: st.Strategy | None) -> bool:
    if isinstance(strat, st.Timestamp) and strat.step_seconds is not None:
        return True
    return isinstance(strat, _BIJECTIVE) or bool(strat and strat.unique)


def _driving_and_distinct(table: ResolvedTable, key: list[str]) -> bool:
    """The key holds the group's parent (per_parent) and a ref distinct within the group."""
    pp = table.spec.per_parent
    refs = [(c, unwrap(table.spec.columns[c])) for c in key if c in table.spec.columns]
    driving = any(
        isinstance(s, st.Ref) and pp and s.table == pp.table and not (s.match or s.where or s.grid)
        for _, s in refs
    )
    # a list samples without replacement: its elements are distinct within a group
    return driving and any(
        (isinstance(s, st.Ref) and s.distinct) or isinstance(s, st.Element) for _, s in refs
    )


def _covers_grid(table: ResolvedTable, key: list[str]) -> bool:
    """Every ref of some grid is in the key (its combinations are distinct)."""
    grids = {s.grid for s in map(unwrap, table.spec.columns.values()) if isinstance(s, st.Ref)}
    for grid in grids - {None}:
        members = [
            c
            for c, s in table.spec.columns.items()
            if isinstance(unwrap(s), st.Ref) and unwrap(s).grid == grid  # type: ignore[union-attr]
        ]
        if set(members) <= set(key):
            return True
    return False


def _check_composite_keys(table: ResolvedTable) -> None:
    """A key is unique by construction when one of its columns is: a sequence, uuid or nanoid,
    or any strategy marked unique (each of those is a bijection of the row index)."""
    cols = table.spec.columns
    for key in [table.info.primary_key, *table.info.uniques]:
        # NULLs never collide in a UNIQUE key: a nullable wrapper keeps its values distinct
        strats = [_non_null(cols.get(c)) for c in key]
        if not key or any(_bijective(s) for s in strats) or _covers_grid(table, key):
            continue
        if _driving_and_distinct(table, key):
            continue
        if all(s is None or isinstance(s, st.Default) for s in strats):
            continue  # the database fills the key (identity)
        what = "primary key" if key == table.info.primary_key else "unique key"
        raise SpecError(
            f"table {table.name}: {what} ({', '.join(key)}) is not unique by construction",
            hint=f"give {key[0]} a key kind (sequence, uuid, nanoid) or unique: true",
        )


def _check_covered(
    table: str, column: ColumnInfo, strat: st.Strategy | None, columns: dict[str, st.Strategy]
) -> None:
    where = f"table {table}, column {column.name}"
    written = strat is not None and writes(strat)
    if not written and not column.nullable and not column.db_fills:
        raise SpecError(
            f"{where}: NOT NULL with no default and no strategy",
            hint=f"give it one in the spec, e.g. {column.name}: {{kind: const, value: ...}}",
        )
    if isinstance(strat, st.CopyFromParent) and not column.nullable and may_be_null(columns, strat):
        raise SpecError(
            f"{where}: NOT NULL but copied through {strat.ref}, which may be NULL",
            hint=f"make {strat.ref} non-null or wrap {column.name} in nullable",
        )
    if isinstance(strat, st.Nullable) and not column.nullable and strat.share > 0:
        raise SpecError(
            f"{where}: NOT NULL but its strategy is nullable (share {strat.share})",
            hint="drop the nullable wrapper or make the column nullable",
        )


def _check_refs(
    table: ResolvedTable, col: str, strat: st.Strategy, tables: dict[str, ResolvedTable]
) -> None:
    dependencies(table, col, strat, tables)
    inner = unwrap(strat)
    if isinstance(inner, st.Ref) and inner.forest and inner.table != table.name:
        raise SpecError(
            f"table {table.name}, column {col}: forest on a ref to {inner.table}, not to itself",
            hint="forest shapes a self-reference only: drop it or point the ref at its own table",
        )


def _check_fit(
    table: ResolvedTable,
    col: str,
    column: ColumnInfo,
    strat: st.Strategy,
    tables: dict[str, ResolvedTable],
) -> None:
    from generator.spec.compile_text import family

    fam = family(table, strat, tables)
    if fam != "any" and not accepts(column.type, fam):
        raise SpecError(
            f"table {table.name}, column {col}: kind {unwrap(strat).kind} makes {fam} values, "
            f"which do not fit type {column.type.spelling}",
            hint="choose a kind that makes values of the column's type",
        )


def _check_foreign_keys(table: ResolvedTable, tables: dict[str, ResolvedTable]) -> None:
    cols = table.spec.columns
    for child, parent, parent_cols in table.info.foreign_keys:
        if parent not in tables:
            continue
        pairs = dict(zip(child, parent_cols, strict=True))
        anchors = [c for c in child if _refs_to(cols.get(c), parent)]
        if any(_always_null(cols.get(c)) for c in child):
            continue  # every row NULL in one of its columns: MATCH SIMPLE never checks it
        ok = len(anchors) == 1 and all(
            c == anchors[0]
            or _copies(cols[c], anchors[0], pairs[c])
            or _matched(cols[anchors[0]], pairs[c], c)
            for c in child
            if c in cols and writes(cols[c])
        )
        if not ok:
            first = child[0]
            raise SpecError(
                f"table {table.name}: foreign key ({', '.join(child)}) -> {parent}"
                f"({', '.join(parent_cols)}) is not produced from one parent row",
                hint=f"make {first} {{kind: ref, table: {parent}, column: {pairs[first]}}} and the "
                f"other columns {{kind: copy_from_parent, ref: {first}, column: ...}}",
            )


def _always_null(strat: st.Strategy | None) -> bool:
    return isinstance(strat, st.Nullable) and strat.share >= 1


def _matched(anchor: st.Strategy, parent_column: str, column: str) -> bool:
    """The anchor ref only picks parents whose ``parent_column`` equals this row's ``column``."""
    inner = unwrap(anchor)
    return isinstance(inner, st.Ref) and inner.match.get(parent_column) == column


def _refs_to(strat: st.Strategy | None, parent: str) -> bool:
    inner = unwrap(strat) if strat is not None else None
    return isinstance(inner, st.Ref | st.Custom) and inner.table == parent


def _copies(strat: st.Strategy, anchor: str, parent_column: str) -> bool:
    inner = unwrap(strat)  # a NULL in any column of a composite FK satisfies it (MATCH SIMPLE)
    return (
        isinstance(inner, st.CopyFromParent)
        and inner.ref == anchor
        and inner.column == parent_column
    )


# --------------------------------------------------------------------------- ordering
