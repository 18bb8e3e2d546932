"""CHECK constraints read with PostgreSQL's own parser (``pglast``), for inference to satisfy
by construction.

Shapes understood, alone, joined with AND, or behind ``col IS NULL OR ...``: a column against a
constant (``>= <= > < =``, ``BETWEEN``), a column ``IN (...)`` / ``= ANY (ARRAY[...])``, a
column's ``length``/``char_length`` against constants (``length(code) BETWEEN 2 AND 8``), and
one column against another (``end_date >= start_date``, ``low < high``: ``ordered``, with the
strict pairs also in ``strict``). Anything else makes the whole CHECK
*unsupported*: the plan then refuses it by name, unless the spec lists it in ``assume_checks``
(its strategies satisfy it by design).
"""

# pglast types every node field Optional; the parser fills the ones read here for these shapes.
# mypy: disable-error-code="union-attr,index,arg-type,misc"
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pglast
from pglast import ast
from pglast.enums.primnodes import BoolExprType

from seedgen.errors import SpecError


class Unsupported(Exception):
    pass


@dataclass
class Bounds:
    low: float | None = None
    high: float | None = None
    low_strict: bool = False
    high_strict: bool = False

    def tighten(self, op: str, value: float) -> None:
        if op in (">", ">=", "=") and (self.low is None or value >= self.low):
            self.low, self.low_strict = value, op == ">"
        if op in ("<", "<=", "=") and (self.high is None or value <= self.high):
            self.high, self.high_strict = value, op == "<"


@dataclass
class CheckFacts:
    bounds: dict[str, Bounds] = field(default_factory=dict)
    choices: dict[str, list[Any]] = field(default_factory=dict)
    ordered: list[tuple[str, str]] = field(
        default_factory=list
    )  # (earlier, later): later >= earlier
    strict: set[tuple[str, str]] = field(default_factory=set)  # ordered pairs with later > earlier
    lengths: dict[str, Bounds] = field(default_factory=dict)  # characters of a text column
    unsupported: list[tuple[str, str]] = field(default_factory=list)  # (name, text)


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}


def analyse(checks: list[tuple[str, str]]) -> CheckFacts:
    facts = CheckFacts()
    for name, text in checks:
        local = CheckFacts()
        try:
            for atom in _conjuncts(_parse(text)):
                _atom(atom, local)
        except Unsupported:
            facts.unsupported.append((name, text))
            continue
        _merge(facts.bounds, local.bounds)
        _merge(facts.lengths, local.lengths)
        facts.choices.update(local.choices)
        facts.ordered += local.ordered
        facts.strict |= local.strict
    return facts


def _merge(into: dict[str, Bounds], new: dict[str, Bounds]) -> None:
    for col, b in new.items():
        mine = into.setdefault(col, Bounds())
        if b.low is not None:
            mine.tighten(">" if b.low_strict else ">=", b.low)
        if b.high is not None:
            mine.tighten("<" if b.high_strict else "<=", b.high)


def _parse(text: str) -> Any:
    try:
        return pglast.parse_sql(f"SELECT 1 WHERE {text}")[0].stmt.whereClause
    except pglast.parser.ParseError as exc:
        raise SpecError(f"cannot parse CHECK ({text}): {exc}") from exc


def _conjuncts(node: Any) -> list[Any]:
    if isinstance(node, ast.BoolExpr) and node.boolop == BoolExprType.AND_EXPR:
        return [a for arg in node.args for a in _conjuncts(arg)]
    if isinstance(node, ast.BoolExpr) and node.boolop == BoolExprType.OR_EXPR:
        guards = [a for a in node.args if _is_null_test(a)]
        rest = [a for a in node.args if not _is_null_test(a)]
        if len(guards) >= 1 and len(rest) == 1:  # NULL passes a CHECK: the guard is free
            return _conjuncts(rest[0])
        raise Unsupported
    return [node]


def _is_null_test(node: Any) -> bool:
    return isinstance(node, ast.NullTest) and _column(node.arg) is not None


def _atom(node: Any, facts: CheckFacts) -> None:
    if not isinstance(node, ast.A_Expr):
        raise Unsupported
    op = node.name[-1].sval
    kind = node.kind.name
    left = _column(node.lexpr)
    right = _column(node.rexpr) if not isinstance(node.rexpr, tuple) else None
    if kind == "AEXPR_OP" and op in _FLIP:
        if left and right:
            if _length_of(node.lexpr) or _length_of(node.rexpr):
                raise Unsupported
            _pair(op, left, right, facts)
        elif left or right:
            col, const = (left, node.rexpr) if left else (right, node.lexpr)
            _bound(node.lexpr if left else node.rexpr, facts).setdefault(
                str(col), Bounds()
            ).tighten(op if left else _FLIP[op], _number(const))
        else:
            raise Unsupported
    elif kind in ("AEXPR_OP_ANY", "AEXPR_IN") and op == "=" and left and not _length_of(node.lexpr):
        items = _elements(node.rexpr)
        facts.choices[left] = [_const(i) for i in items]
    elif kind == "AEXPR_BETWEEN" and left:
        low, high = node.rexpr
        bounds = _bound(node.lexpr, facts).setdefault(left, Bounds())
        bounds.tighten(">=", _number(low))
        bounds.tighten("<=", _number(high))
    else:
        raise Unsupported


def _pair(op: str, left: str, right: str, facts: CheckFacts) -> None:
    if op not in (">=", ">", "<=", "<"):
        raise Unsupported
    pair = (right, left) if op in (">=", ">") else (left, right)
    facts.ordered.append(pair)
    if op in (">", "<"):
        facts.strict.add(pair)


def _bound(side: Any, facts: CheckFacts) -> dict[str, Bounds]:
    """Where a comparison of ``side`` with a constant bounds: a length or the value."""
    return facts.lengths if _length_of(side) else facts.bounds


def _length_of(node: Any) -> str | None:
    """The column of ``length(col)`` / ``char_length(col)`` (``character_length`` too)."""
    if isinstance(node, ast.FuncCall) and node.args and len(node.args) == 1:
        name = node.funcname[-1].sval
        if name in ("length", "char_length", "character_length") and not node.agg_star:
            return _plain_column(node.args[0])
    return None


def _number(node: Any) -> float:
    value = _const(node)
    if isinstance(value, bool):
        raise Unsupported
    try:  # PostgreSQL spells a negative constant '-1'::integer
        return float(value)
    except ValueError:
        raise Unsupported from None  # a date or a word against a column: no shape met here


def _elements(node: Any) -> Any:
    """The items of ``IN (...)`` or of ``ANY (ARRAY[...])``; on a varchar column PostgreSQL
    spells the latter ``(ARRAY['a'::varchar, ...])::text[]``: the cast is looked through."""
    while isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.A_ArrayExpr):
        return node.elements
    if isinstance(node, tuple):
        return node
    raise Unsupported


def _column(node: Any) -> str | None:
    """The column a side names, plain or inside ``length(...)``."""
    return _length_of(node) or _plain_column(node)


def _plain_column(node: Any) -> str | None:
    if isinstance(node, ast.TypeCast):
        return _plain_column(node.arg)
    if isinstance(node, ast.ColumnRef) and len(node.fields) == 1:
        return str(node.fields[0].sval)
    return None


def _const(node: Any) -> Any:
    if isinstance(node, ast.TypeCast):
        return _const(node.arg)
    if isinstance(node, ast.A_Const) and not node.isnull:
        val = node.val
        if isinstance(val, ast.Integer):
            return val.ival
        if isinstance(val, ast.Float):
            return float(val.fval)
        if isinstance(val, ast.String):
            return val.sval
    raise Unsupported
