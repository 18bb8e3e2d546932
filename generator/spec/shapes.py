"""CHECK constraints met by construction: inference shapes its strategies to them, the planner
checks any spec against them.

From the facts ``checks.analyse`` reads (PostgreSQL's own parser): ``IN`` lists become choices,
bounds clip numbers, a length range pads and cuts a faker pool, and an ordered pair of columns
(``low <= high``, ``starts_at < ends_at``) makes one column a function of the other: ``after``
for times (one second, or a day for dates, when strict), ``offset`` for numbers (one unit of the
column when strict), shrunk before the later column's upper bound. ``check_table`` refuses,
naming the CHECK and the table, any CHECK whose shape is not understood or whose ordered pairs
and lengths the table's strategies do not meet (``assume_checks`` is the way out).
"""

from __future__ import annotations

from generator.spec import strategies as st
from generator.spec.checks import Bounds, CheckFacts, analyse
from generator.spec.sources import ColumnInfo, TableInfo
from generator.spec.tables import ResolvedTable, unwrap
from generator.spec.types import int_limit
from seedgen.errors import SpecError

TIME = ("timestamp", "date")
NUMBER = ("int", "decimal", "float")
_FREE = (st.Range, st.Normal, st.Lognormal, st.Exponential, st.Pareto, st.Timestamp, st.After)


def apply_checks(info: TableInfo, columns: dict[str, st.Strategy]) -> None:
    """Shape inferred strategies so every CHECK of a known shape holds."""
    facts = analyse(info.checks)
    for name, strat in list(columns.items()):
        inner, column = unwrap(strat), info.columns[name]
        if name in facts.choices:
            inner = st.Choice(kind="choice", values=facts.choices[name])
        elif name in facts.bounds and column.type.family in NUMBER:
            inner = bounded(inner, facts.bounds[name], column)
        if name in facts.lengths and isinstance(inner, st.Faker) and not inner.unique:
            low, high = _int_range(facts.lengths[name])
            inner = inner.model_copy(update={"min_length": max(low, 0), "max_length": high})
        columns[name] = rewrap(strat, inner)
    keys = {c for key in [info.primary_key, *info.uniques] for c in key}
    for earlier, later in facts.ordered:
        _order(info, columns, facts, (earlier, later), keys)


def rewrap(outer: st.Strategy, inner: st.Strategy) -> st.Strategy:
    return outer.model_copy(update={"of": inner}) if isinstance(outer, st.Nullable) else inner


def bounded(strat: st.Strategy, b: Bounds, column: ColumnInfo) -> st.Strategy:
    unit = _unit(column)
    low = None if b.low is None else b.low + (unit if b.low_strict else 0)
    high = None if b.high is None else b.high - (unit if b.high_strict else 0)
    if isinstance(strat, st.Range):
        lo = strat.min if low is None else max(strat.min, low)
        hi = strat.max if high is None else min(strat.max, high)
        if lo > hi:  # the strategy's range misses the CHECK's: take the CHECK's
            lo = low if low is not None else hi - 1000
            hi = high if high is not None else lo + 1000
        return strat.model_copy(update={"min": lo, "max": hi})
    if isinstance(strat, st.Normal | st.Lognormal | st.Exponential | st.Pareto):
        clip_lo = low if strat.min is None or low is None else max(strat.min, low)
        clip_hi = high if strat.max is None or high is None else min(strat.max, high)
        return strat.model_copy(
            update={
                "min": clip_lo if clip_lo is not None else strat.min,
                "max": clip_hi if clip_hi is not None else strat.max,
            }
        )
    return strat


def _unit(column: ColumnInfo) -> float:
    if column.type.family == "int":
        return 1.0
    return 10.0 ** -(column.type.scale if column.type.scale is not None else 6)


def _int_range(b: Bounds) -> tuple[int, int | None]:
    low = 0 if b.low is None else int(-(-b.low // 1)) + (1 if b.low_strict else 0)
    if b.high is None:
        return low, None
    high = int(b.high // 1)
    return low, high - 1 if b.high_strict and high == b.high else high


def _written(columns: dict[str, st.Strategy], name: str) -> bool:
    """A column the set writes (not left to a database default): another can be computed
    from it."""
    return name in columns and not isinstance(unwrap(columns[name]), st.Default)


def _free(columns: dict[str, st.Strategy], name: str, keys: set[str], facts: CheckFacts) -> bool:
    inner = unwrap(columns[name])
    return isinstance(inner, _FREE) and not inner.unique and name not in keys | set(facts.choices)


def _reads(columns: dict[str, st.Strategy], start: str, target: str) -> bool:
    """Whether ``start`` is computed (through after/offset) from ``target``."""
    seen: set[str] = set()
    while start not in seen:
        seen.add(start)
        if start == target:
            return True
        inner = unwrap(columns[start]) if start in columns else None
        if not isinstance(inner, st.After | st.Offset):
            return False
        start = inner.of
    return False


def _order(
    info: TableInfo,
    columns: dict[str, st.Strategy],
    facts: CheckFacts,
    pair: tuple[str, str],
    keys: set[str],
) -> None:
    earlier, later = pair
    strict = pair in facts.strict
    if not (_written(columns, earlier) and _written(columns, later)):
        return
    fams = {info.columns[c].type.family for c in pair}
    if fams <= set(TIME):
        if _free(columns, later, keys, facts) and not _reads(columns, earlier, later):
            date_later = info.columns[later].type.family == "date"
            step = 86_400 if date_later and (strict or fams != {"date"}) else int(strict)
            after = st.After(kind="after", of=earlier, min_seconds=step, max_seconds=60 * 86_400)
            _derive(info, columns, later, earlier, after)
    elif fams <= set(NUMBER):
        col_e, col_l = info.columns[earlier], info.columns[later]
        gap = _unit(col_l) if strict or _unit(col_e) < _unit(col_l) else 0.0
        if _free(columns, later, keys, facts) and not _reads(columns, earlier, later):
            b = facts.bounds.get(later, Bounds())
            top = b.high if b.high is not None else int_limit(col_l.type)
            bound = None if top is None else float(top) - (_unit(col_l) if b.high_strict else 0)
            if (bound, b.low) != (None, None) and isinstance(unwrap(columns[earlier]), _FREE):
                limit = Bounds(b.low, None if bound is None else bound - gap, b.low_strict)
                tight = bounded(unwrap(columns[earlier]), limit, col_e)
                columns[earlier] = rewrap(columns[earlier], tight)
            offset = st.Offset(kind="offset", of=earlier, min=gap, max=gap + 100, bound=bound)
            _derive(info, columns, later, earlier, offset)
        elif _free(columns, earlier, keys, facts) and not _reads(columns, later, earlier):
            b = facts.bounds.get(earlier, Bounds())
            low = None if b.low is None else b.low + (_unit(col_e) if b.low_strict else 0)
            offset = st.Offset(
                kind="offset", of=later, direction="below", min=gap, max=gap + 100, bound=low
            )
            _derive(info, columns, earlier, later, offset)


def _derive(
    info: TableInfo, columns: dict[str, st.Strategy], target: str, source: str, strat: st.Strategy
) -> None:
    """``target`` computed from ``source``; a NOT NULL target needs a source with no NULLs."""
    columns[target] = rewrap(columns[target], strat)
    if not info.columns[target].nullable and isinstance(columns[source], st.Nullable):
        columns[source] = unwrap(columns[source])


# --------------------------------------------------------------------------- plan-time check


def check_table(table: ResolvedTable) -> None:
    """Every CHECK is of a shape understood and met by the table's strategies, or assumed."""
    for name, text in table.info.checks:
        if name in table.spec.assume_checks:
            continue
        facts = analyse([(name, text)])
        why = _unmet(table, facts)
        if why:
            raise SpecError(
                f"table {table.name}: cannot satisfy CHECK {name} ({text}) by construction: {why}",
                hint=f"give its columns strategies that satisfy it and add {name} to the "
                f"table's assume_checks",
            )


def _unmet(table: ResolvedTable, facts: CheckFacts) -> str | None:
    if facts.unsupported:
        return "a shape seedgen does not read"
    for earlier, later in facts.ordered:
        if not _ordered(table, earlier, later, (earlier, later) in facts.strict):
            return f"{later} is not computed from {earlier} (after/offset)"
    for col, b in facts.lengths.items():
        span = _lengths(table, col)
        low, high = _int_range(b)
        if span[0] < low or (high is not None and span[1] > high):
            return f"the length of {col} is not kept in [{low}, {'' if high is None else high}]"
    return None


def _ordered(table: ResolvedTable, earlier: str, later: str, strict: bool) -> bool:
    cols = table.spec.columns
    up = unwrap(cols[later]) if later in cols else None
    down = unwrap(cols[earlier]) if earlier in cols else None
    if isinstance(up, st.After) and up.of == earlier:  # a date keeps only whole days
        fams = [table.info.columns[c].type.family for c in (earlier, later)]
        day = fams[1] == "date" and (strict or fams[0] != "date")
        return up.min_seconds >= (86_400 if day else int(strict))
    if isinstance(up, st.Offset) and up.of == earlier and up.direction == "above":
        return up.min > 0 or not strict
    if isinstance(down, st.Offset) and down.of == later and down.direction == "below":
        return down.min > 0 or not strict
    return False


def _lengths(table: ResolvedTable, col: str) -> tuple[int, float]:
    """Bounds of the lengths a column's strategy writes: what it promises, else [0, varchar
    limit] (every value has a length of at least 0 and fits its column)."""
    inner = unwrap(table.spec.columns[col]) if col in table.spec.columns else None
    info = table.info.columns.get(col)
    cap = info.type.length if info is not None and info.type.length else float("inf")
    if isinstance(inner, st.Faker):
        return _capped(inner.min_length, inner.max_length or float("inf"), cap)
    if isinstance(inner, st.Nanoid):
        size = inner.length + len(inner.prefix)
        return _capped(size, size, cap)
    if isinstance(inner, st.Choice | st.Quota | st.Const):
        items = inner.values if not isinstance(inner, st.Const) else [inner.value]
        sizes = [len(str(v)) for v in items if v is not None] or [0]
        return _capped(min(sizes), max(sizes), cap)
    return 0, cap


def _capped(low: float, high: float, cap: float) -> tuple[int, float]:
    """varchar(n) cuts every value to n characters."""
    return int(min(low, cap)), min(high, cap)
