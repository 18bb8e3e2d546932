"""Derived columns: a small, safe expression language over the other columns of a row.

``lower(name)``, ``left(prompt, 20)``, ``quantity * unit_price``, ``round(price * 0.8, 2)``,
``concat(first, '.', last)``. Parsed with Python's ``ast`` (only names, literals, arithmetic and
the functions below are allowed; nothing is ``eval``ed) and evaluated column-wise with pyarrow
compute, so a derived column costs no per-row Python.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from seedgen.errors import SpecError

Value = Any  # a pyarrow array (untyped) or a literal: str, int, float


def _text(v: Value) -> Any:
    return pc.cast(v, pa.string()) if isinstance(v, pa.Array) else str(v)


FUNCTIONS: dict[str, Callable[..., Value]] = {
    "lower": lambda s: pc.utf8_lower(s),
    "upper": lambda s: pc.utf8_upper(s),
    "left": lambda s, n: pc.utf8_slice_codeunits(s, 0, int(n)),
    "right": lambda s, n: pc.utf8_slice_codeunits(s, -int(n)),
    "length": lambda s: pc.cast(pc.utf8_length(s), pa.int64()),
    "concat": lambda *parts: pc.binary_join_element_wise(*[_text(p) for p in parts], ""),
    "round": lambda x, d=0: pc.round(x, int(d)),
    "abs": lambda x: pc.abs(x),
    "floor": lambda x: pc.floor(x),
    "ceil": lambda x: pc.ceil(x),
    "coalesce": lambda *xs: pc.coalesce(*xs),
    "text": _text,
}
_OPS: dict[type[ast.operator], Callable[[Value, Value], Value]] = {
    ast.Add: pc.add,
    ast.Sub: pc.subtract,
    ast.Mult: pc.multiply,
    ast.Div: lambda a, b: pc.divide(pc.cast(a, pa.float64()), b),
    ast.Mod: lambda a, b: pc.subtract(a, pc.multiply(pc.floor(pc.divide(a, b)), b)),
}


def parse(source: str, where: str) -> ast.expr:
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError as exc:
        raise SpecError(f"{where}: cannot parse expr {source!r}: {exc.msg}") from exc
    for node in ast.walk(tree):
        _check_node(node, source, where)
    return tree


def _check_node(node: ast.AST, source: str, where: str) -> None:
    allowed = (ast.BinOp, ast.UnaryOp, ast.USub, ast.Call, ast.Name, ast.Constant, ast.Load)
    if isinstance(node, ast.operator) and type(node) in _OPS:
        return
    if not isinstance(node, allowed):
        raise SpecError(
            f"{where}: expr {source!r}: {type(node).__name__} is not allowed",
            hint="use column names, literals, + - * / %, and " + ", ".join(FUNCTIONS),
        )
    if isinstance(node, ast.Call) and (
        not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords
    ):
        name = node.func.id if isinstance(node.func, ast.Name) else "?"
        raise SpecError(
            f"{where}: expr {source!r}: unknown function {name}",
            hint="functions: " + ", ".join(FUNCTIONS),
        )


def names(tree: ast.expr) -> list[str]:
    """Columns the expression reads (function names excluded)."""
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called})


def evaluate(tree: ast.expr, columns: Mapping[str, pa.Array], rows: int) -> pa.Array:
    value = _eval(tree, columns)
    if isinstance(value, pa.Array):
        return value
    return pa.array([value] * rows)


def _eval(node: ast.expr, columns: Mapping[str, pa.Array]) -> Value:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return columns[node.id]
    if isinstance(node, ast.UnaryOp):
        return pc.negate(_eval(node.operand, columns))
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, columns), _eval(node.right, columns)
        if isinstance(node.op, ast.Add) and (_is_text(left) or _is_text(right)):
            return pc.binary_join_element_wise(_text(left), _text(right), "")
        return _OPS[type(node.op)](left, right)
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    return FUNCTIONS[node.func.id](*[_eval(a, columns) for a in node.args])


def _is_text(v: Value) -> bool:
    return isinstance(v, str) or (isinstance(v, pa.Array) and pa.types.is_string(v.type))
