"""The allow-list of post-load steps (``manifest.post_load``), checked before a load writes.

The steps are text anyone could have written (``seedgen.untrusted``). Before the load writes
anything, each is parsed with pglast and must be exactly one statement of these kinds:

- ``REFRESH MATERIALIZED VIEW [CONCURRENTLY] v``: a materialized view the target database has
  (its query is the database owner's; checked before the first write);
- ``ANALYZE t, …`` of tables of the set or views the steps refresh, no options;
- ``INSERT INTO t … SELECT``, ``UPDATE t … [FROM]``, ``DELETE FROM t … [USING]`` where ``t`` is
  a *derived* table: a table of the set for which it ships no rows (the steps own its content;
  writing a table the set loads rows into could change the application's own rows next to an
  ``--append``), and every relation read is a table of the set (or a view the steps refresh,
  or the statement's own ``WITH`` name, which may only ``SELECT``); no ``RETURNING``, and
  function calls only to a few built-ins (aggregates, ``lower``, ``now``, JSON unnesting…).

What runs is deparsed from the checked tree with every relation schema-qualified. A refusal is
one ``ManifestError`` line naming the step, its kind and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from pglast import ast
from pglast.stream import RawStream

from loader import pgtree
from loader.pgtree import Name
from seedgen.errors import ManifestError
from seedgen.manifest import Manifest

FUNCTIONS = frozenset(
    {"count", "sum", "avg", "min", "max", "array_agg", "string_agg", "bool_and", "bool_or"}
    | {"lower", "upper", "length", "char_length", "now", "date_trunc", "round", "abs"}
    | {"jsonb_array_elements_text", "jsonb_array_length", "unnest", "cardinality"}
    | {"row_number", "rank", "dense_rank"}
)
HINT = "a post-load step may refresh a materialized view, ANALYZE, or INSERT/UPDATE/DELETE a \
table the set ships no rows for from SELECTs over the set's tables; regenerate the set with \
`seedgen generate`"
_DML = ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt


@dataclass(frozen=True)
class Step:
    """One checked step: ``text`` is what runs; ``writes`` the relations it changes."""

    number: int  # 1-based, as messages and the ledger count
    kind: str
    text: str
    writes: tuple[Name, ...]
    refreshes: Name | None = None

    @property
    def label(self) -> str:
        return f"post-load step {self.number} ({self.kind} {names(self.writes)})"


def names(names: tuple[Name, ...] | list[Name]) -> str:
    return ", ".join(map(pgtree.show, names))


class _Refused(Exception):
    pass


def check(manifest: Manifest) -> list[Step]:
    """Parse and allow-list every step, or raise one ``ManifestError`` (nothing connects)."""
    tables = {t.qualified for t in manifest.tables}
    derived = {t.qualified for t in manifest.tables if t.rows == 0}
    trees = [_parse(n, text) for n, text in enumerate(manifest.post_load, 1)]
    views = {pgtree.name(t.relation) for t in trees if isinstance(t, ast.RefreshMatViewStmt)}
    return [_checked(n, tree, tables, views, derived) for n, tree in enumerate(trees, 1)]


def _parse(number: int, text: str) -> ast.Node:
    return pgtree.parse_one(text, f"manifest post_load step {number}", HINT, _kind)


def _kind(stmt: ast.Node | None) -> str:
    if isinstance(stmt, ast.RefreshMatViewStmt):
        return "REFRESH MATERIALIZED VIEW"
    if isinstance(stmt, ast.VacuumStmt):
        return "VACUUM" if stmt.is_vacuumcmd else "ANALYZE"
    return pgtree.kind(stmt)


def _checked(
    number: int, stmt: ast.Node, tables: set[Name], views: set[Name], derived: set[Name]
) -> Step:
    kind = _kind(stmt)
    try:
        ctes = {c.ctename for c in pgtree.nodes(stmt, ast.CommonTableExpr)}
        for rel in pgtree.nodes(stmt, ast.RangeVar):
            if rel.relpersistence == "t" or rel.catalogname:
                raise _Refused("temporary or cross-database relations")
            if rel.schemaname is None and rel.relname in ctes:
                continue  # the statement's own WITH name
            if pgtree.name(rel) not in tables | views:
                raise _Refused(f"{pgtree.show(pgtree.name(rel))} is not a table of the set")
            rel.schemaname = pgtree.name(rel)[0]  # run as checked, whatever search_path says
        _functions(stmt)
        writes, refreshes = _allow(stmt, derived)
        return Step(number, kind, str(RawStream()(stmt)), writes, refreshes)
    except RecursionError:
        reason = "nested too deeply"
    except _Refused as refused:
        reason = str(refused)
    raise ManifestError(
        f"manifest post_load step {number}: {kind}{pgtree.target(stmt)} refused: {reason}",
        hint=HINT,
    )


def _allow(stmt: ast.Node, derived: set[Name]) -> tuple[tuple[Name, ...], Name | None]:
    """The statement's kind and clauses; what it writes: a view it refreshes, or a table the
    set ships no rows for (a derived table: a step writing a table the set loads rows into could
    change the application's own rows next to an ``--append``, e.g. make every user an admin)."""
    if isinstance(stmt, ast.RefreshMatViewStmt):
        return (pgtree.name(stmt.relation),), pgtree.name(stmt.relation)
    if isinstance(stmt, ast.VacuumStmt) and not stmt.is_vacuumcmd:
        if stmt.options or not stmt.rels:
            raise _Refused("only ANALYZE of named relations, without options")
        return tuple(pgtree.name(r.relation) for r in stmt.rels), None
    if not isinstance(stmt, _DML):
        raise _Refused("not a statement a post-load step runs")
    if getattr(stmt, "returningClause", None) or getattr(stmt, "returningList", None):
        raise _Refused("RETURNING is not allowed")
    if isinstance(stmt, ast.InsertStmt) and not isinstance(stmt.selectStmt, ast.SelectStmt):
        raise _Refused("INSERT only from a SELECT or VALUES")
    if any(s.intoClause for s in pgtree.nodes(stmt, ast.SelectStmt)):
        raise _Refused("SELECT INTO is not allowed")
    for cte in pgtree.nodes(stmt, ast.CommonTableExpr):
        if not isinstance(cte.ctequery, ast.SelectStmt):
            raise _Refused("a WITH query may only SELECT")
    target = pgtree.name(stmt.relation)
    if target not in derived:
        raise _Refused(
            f"it writes {pgtree.show(target)}, a table the set loads rows into (a step may "
            "write only tables the set ships no rows for)"
        )
    return (target,), None


def _functions(stmt: ast.Node) -> None:
    for call in pgtree.nodes(stmt, ast.FuncCall):
        names: list[str] = [getattr(s, "sval", "") for s in call.funcname or ()]
        if names[-1] not in FUNCTIONS or names[:-1] not in ([], ["pg_catalog"]):
            raise _Refused(f"function {'.'.join(names)}() is not allowed")


def written_tables(steps: list[Step]) -> set[str]:
    """Names of set tables steps insert into or delete from: their row counts are the steps',
    not the set's (an ``UPDATE`` keeps the count: its table is still checked)."""
    return {name[1] for step in steps if step.kind in ("INSERT", "DELETE") for name in step.writes}
