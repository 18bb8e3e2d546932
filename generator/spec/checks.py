"""CHECK constraints read with PostgreSQL's own parser (``pglast``), for inference to satisfy
by construction.

Shapes understood, alone, joined with AND, or behind ``col IS NULL OR ...``: a column against a
constant (``>= <= > < =``, ``BETWEEN``), a column ``IN (...)`` / ``= ANY (ARRAY[...])``, and
one column against another (``end_date >= start_date``). Anything else makes the whole CHECK
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
        for col, b in local.bounds.items():
            mine = facts.bounds.setdefault(col, Bounds())
            if b.low is not None:
                mine.tighten(">" if b.low_strict else ">=", b.low)
            if b.high is not None:
                mine.tighten("<" if b.high_strict else "<=", b.high)
        facts.choices.update(local.choices)
        facts.ordered += local.ordered
    return facts


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
    left, right = (
        _column(node.lexpr),
        _column(node.rexpr) if not isinstance(node.rexpr, tuple) else None,
    )
    if kind == "AEXPR_OP" and op in _FLIP:
        if left and right:
            if op in (">=", ">"):
                facts.ordered.append((right, left))
            elif op in ("<=", "<"):
                facts.ordered.append((left, right))
            else:
                raise Unsupported
        elif left:
            facts.bounds.setdefault(left, Bounds()).tighten(op, float(_const(node.rexpr)))
        elif right:
            facts.bounds.setdefault(right, Bounds()).tighten(_FLIP[op], float(_const(node.lexpr)))
        else:
            raise Unsupported
    elif kind in ("AEXPR_OP_ANY", "AEXPR_IN") and op == "=" and left:
        items = node.rexpr.elements if isinstance(node.rexpr, ast.A_ArrayExpr) else node.rexpr
        facts.choices[left] = [_const(i) for i in items]
    elif kind == "AEXPR_BETWEEN" and left:
        low, high = node.rexpr
        facts.bounds.setdefault(left, Bounds()).tighten(">=", float(_const(low)))
        facts.bounds[left].tighten("<=", float(_const(high)))
    else:
        raise Unsupported


def _column(node: Any) -> str | None:
    if isinstance(node, ast.TypeCast):
        return _column(node.arg)
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
