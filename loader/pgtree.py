"""Names and kinds in pglast parse trees, for messages and allow-lists (``loader.ddl``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TypeVar

from pglast import ast

Name = tuple[str, str]  # (schema, name)
N = TypeVar("N", bound=ast.Node)

_KINDS = {
    "CreateStmt": "CREATE TABLE",
    "IndexStmt": "CREATE INDEX",
    "CreateSeqStmt": "CREATE SEQUENCE",
    "AlterSeqStmt": "ALTER SEQUENCE",
    "CreateEnumStmt": "CREATE TYPE",
    "CommentStmt": "COMMENT",
    "CreateTableAsStmt": "CREATE TABLE AS",
}


def nodes(tree: object, of: type[N]) -> Iterator[N]:
    """Every node of type ``of`` in a parse tree (iterative: a hostile tree may be deep)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, tuple | list):
            stack.extend(reversed(node))
        elif isinstance(node, ast.Node):
            if isinstance(node, of):
                yield node
            stack.extend(getattr(node, attr) for attr in reversed(list(node)))


def target(stmt: ast.Node) -> str:
    """`` public.users`` for a statement on one relation, the objects of a DROP, else empty."""
    for attr in ("relation", "sequence"):
        rel = getattr(stmt, attr, None)
        if isinstance(rel, ast.RangeVar):
            return " " + show(name(rel))
    if isinstance(stmt, ast.CreateFunctionStmt):
        return " " + ".".join(getattr(p, "sval", "?") for p in stmt.funcname or ())
    if isinstance(stmt, ast.DropStmt):
        objects = [o for o in stmt.objects or () if isinstance(o, tuple)]
        return " " + ", ".join(".".join(getattr(p, "sval", "?") for p in o) for o in objects)
    return ""


def name(rel: ast.RangeVar | None) -> Name:
    """(schema, name); unqualified is ``public``; no relation at all matches nothing."""
    if rel is None or not rel.relname:
        return ("", "")
    return (rel.schemaname or "public", rel.relname)


def show(qualified: Name) -> str:
    return ".".join(qualified)


def kind(stmt: ast.Node | None) -> str:
    """The SQL words of a statement's kind: ``DROP TABLE``, ``CREATE FUNCTION``, ``DO``."""
    cls = type(stmt).__name__
    if isinstance(stmt, ast.DropStmt):
        removed = getattr(stmt.removeType, "name", "OBJECT")
        return "DROP " + removed.removeprefix("OBJECT_").replace("_", " ")
    if isinstance(stmt, ast.CreateFunctionStmt):
        return "CREATE PROCEDURE" if stmt.is_procedure else "CREATE FUNCTION"
    words = re.findall(r"[A-Z][a-z]*", cls.removesuffix("Stmt"))
    return _KINDS.get(cls, " ".join(words).upper())
