"""Names and kinds in pglast parse trees, for messages and allow-lists (``loader.ddl``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TypeVar

from pglast import ast, parse_sql
from pglast.parser import ParseError

from seedgen.errors import ManifestError

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


def parse_one(
    text: str, where: str, hint: str, kind_of: Callable[[ast.Node | None], str] | None = None
) -> ast.Node:
    """Exactly one statement's tree, or one ``ManifestError`` line (``where``: refused, why)."""
    if "\x00" in text:
        raise ManifestError(f"{where}: refused, it holds a NUL byte", hint=hint)
    try:
        stmts = parse_sql(text)
    except RecursionError:
        raise ManifestError(f"{where}: refused, nested too deeply", hint=hint) from None
    except ParseError as exc:
        reason = (str(exc).splitlines() or ["?"])[0]
        raise ManifestError(f"{where}: refused, it does not parse ({reason})", hint=hint) from None
    if len(stmts) != 1:
        kinds = ", ".join((kind_of or kind)(s.stmt) for s in stmts) or "nothing"
        raise ManifestError(
            f"{where}: refused, {len(stmts)} statements in one ({kinds})", hint=hint
        )
    stmt = stmts[0].stmt
    if stmt is None:
        raise ManifestError(f"{where}: refused, no statement", hint=hint)
    return stmt


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


def referenced(definition: str) -> Name | None:
    """The table a foreign key's definition (as ``pg_get_constraintdef`` prints it: ``FOREIGN KEY
    (a) REFERENCES t(id) ...``) points at; unqualified is ``public``; None if it is not one."""
    try:
        stmts = parse_sql(f"ALTER TABLE t ADD CONSTRAINT c {definition}")
    except ParseError:
        return None
    cmds = getattr(stmts[0].stmt, "cmds", None) if len(stmts) == 1 else None
    con = getattr(cmds[0], "def_", None) if cmds else None
    if not isinstance(con, ast.Constraint) or not isinstance(con.pktable, ast.RangeVar):
        return None
    return name(con.pktable)


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
