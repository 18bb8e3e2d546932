"""``--create-schema``: the manifest's DDL, parsed by PostgreSQL's own parser and allow-listed.

A shard set may come from someone else, and its ``ddl`` is text anyone could have written. Before
anything connects, every statement is parsed with pglast (libpg_query: the server's grammar) and
must be exactly one statement of a kind ``--create-schema`` needs:

- ``CREATE TABLE`` (also ``PARTITION OF``), ``CREATE INDEX``, ``ALTER TABLE … ADD CONSTRAINT`` /
  ``ATTACH PARTITION`` and ``COMMENT ON TABLE|COLUMN`` — on the table of its ``ddl`` entry only;
- ``CREATE SEQUENCE`` and ``ALTER SEQUENCE … OWNED BY`` (a table of the set);
- ``CREATE TYPE … AS ENUM`` for a type a column of the set has;
- ``CREATE SCHEMA IF NOT EXISTS`` of a schema a table of the set is in (nothing else in it);
- a DDL entry of its own for a partition of a set table (``CREATE TABLE … PARTITION OF``);
- ``CREATE EXTENSION`` of an extension the manifest lists, from a fixed allow-list.

Every relation a statement names must be a table of the set (the manifest's tables and the
partitioned parents their DDL attaches to) or a sequence the DDL creates, schema-qualified
(unqualified means ``public``, and is executed qualified). Function calls in defaults, checks and
index expressions are limited to a few built-ins. What runs is deparsed from the checked tree,
never the manifest's text. A refusal is one ``ManifestError`` line naming the statement kind and
the table, raised before the first write.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg
from pglast import ast, enums, parse_sql
from pglast.stream import RawStream
from psycopg import sql

from loader import pgtree
from loader.pgtree import Name
from seedgen.errors import ManifestError
from seedgen.manifest import Manifest, qualified_name
from seedgen.progress import Reporter

EXTENSIONS = frozenset({"pg_trgm", "btree_gin", "btree_gist", "citext", "uuid-ossp", "pgcrypto"})
FUNCTIONS = frozenset(
    {"nextval", "lower", "upper", "to_tsvector", "now", "timezone", "length", "char_length"}
    | {"gen_random_uuid", "uuid_generate_v4"}
)
INDEX_METHODS = frozenset({"btree", "hash", "gist", "gin", "spgist", "brin"})
HINT = (
    "load into tables the app's migrations made, without --create-schema, or regenerate the set "
    "with `seedgen generate`"
)

AT = enums.AlterTableType


@dataclass
class Schema:
    """The checked DDL: extensions to create, then per ``ddl`` entry its deparsed statements."""

    extensions: list[str]
    tables: dict[str, list[str]] = field(default_factory=dict)
    qualified: dict[str, Name] = field(default_factory=dict)


@dataclass
class _Scope:
    tables: set[Name]
    sequences: set[Name]
    types: set[str]
    extensions: set[str]


class _Refused(Exception):
    """A statement is not allowed: ``kind`` and ``reason`` go into the one-line error."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind, self.reason = kind, reason


def check(manifest: Manifest) -> Schema:
    """Parse and allow-list the manifest's DDL, or raise one ``ManifestError``."""
    for ext in manifest.extensions:
        if ext not in EXTENSIONS:
            raise ManifestError(
                f"manifest DDL: CREATE EXTENSION {ext} refused: not one of "
                f"{', '.join(sorted(EXTENSIONS))}",
                hint=HINT,
            )
    own = {t.name: t.qualified for t in manifest.tables}
    listed = [d.table for d in manifest.ddl]
    if twice := sorted({t for t in listed if listed.count(t) > 1}):
        raise ManifestError(
            f"manifest DDL: refused, table {twice[0]} has two DDL entries", hint=HINT
        )
    trees = {
        d.table: [_parse(d.table, n, s) for n, s in enumerate(d.statements)] for d in manifest.ddl
    }
    parents = {p for table, stmts in trees.items() if table in own for p in _parents(stmts)}
    scope = _Scope(
        tables=set(own.values()) | parents,
        sequences={
            pgtree.name(s.sequence)
            for stmts in trees.values()
            for s in stmts
            if isinstance(s, ast.CreateSeqStmt)
        },
        types={c.pg_type.rsplit(".", 1)[-1] for t in manifest.tables for c in t.columns},
        extensions=set(manifest.extensions),
    )
    for table, stmts in trees.items():  # partitions of set tables (in order: sub-partitions)
        if table not in own and stmts and all(_partition_of(s, scope.tables) for s in stmts):
            scope.tables.add(qualified_name(table))
    schema = Schema(extensions=list(manifest.extensions))
    for table, stmts in trees.items():
        entry = own.get(table, qualified_name(table))
        if entry not in scope.tables:
            raise ManifestError(
                f"manifest DDL for table {table}: refused, {table} is not a table of the set",
                hint=HINT,
            )
        schema.qualified[table] = entry
        schema.tables[table] = [_checked(table, n, s, entry, scope) for n, s in enumerate(stmts)]
    return schema


def _parse(table: str, number: int, text: str) -> ast.Node:
    return pgtree.parse_one(text, f"manifest DDL for table {table}, statement {number + 1}", HINT)


def _checked(table: str, number: int, stmt: ast.Node, entry: Name, scope: _Scope) -> str:
    try:
        _allow(stmt, entry, scope)
        _expressions(stmt, scope)
        for rel in pgtree.nodes(stmt, ast.RangeVar):
            if rel.relpersistence == "t" or rel.catalogname:
                raise _Refused(pgtree.kind(stmt), "temporary or cross-database relations")
            if pgtree.name(rel) not in scope.tables | scope.sequences:
                raise _Refused(
                    pgtree.kind(stmt), f"{pgtree.show(pgtree.name(rel))} is not a table of the set"
                )
            rel.schemaname = pgtree.name(rel)[0]  # executed as checked, whatever search_path says
        return str(RawStream()(stmt))
    except RecursionError:  # pglast's deparser recurses; a hostile expression may be deep
        exc = _Refused(pgtree.kind(stmt), "nested too deeply")
    except _Refused as refused:
        exc = refused
    raise ManifestError(
        f"manifest DDL for table {table}, statement {number + 1}: {exc.kind}"
        f"{pgtree.target(stmt)} refused: {exc.reason}",
        hint=HINT,
    )


def _allow(stmt: ast.Node, entry: Name, scope: _Scope) -> None:
    kind = pgtree.kind(stmt)
    if isinstance(stmt, ast.CreateStmt):
        _own(kind, stmt.relation, entry)
        if stmt.ofTypename or stmt.tablespacename or stmt.accessMethod not in (None, "heap"):
            raise _Refused(kind, "OF type, TABLESPACE and USING are not allowed")
        if any(isinstance(e, ast.TableLikeClause) for e in stmt.tableElts or ()):
            raise _Refused(kind, "LIKE another table is not allowed")
    elif isinstance(stmt, ast.IndexStmt):
        _own(kind, stmt.relation, entry)
        if stmt.concurrent or stmt.tableSpace or stmt.accessMethod not in INDEX_METHODS:
            raise _Refused(kind, f"USING {stmt.accessMethod}, TABLESPACE or CONCURRENTLY")
    elif isinstance(stmt, ast.CreateSeqStmt | ast.AlterSeqStmt):
        _sequence_options(kind, stmt, isinstance(stmt, ast.AlterSeqStmt), scope)
    elif isinstance(stmt, ast.AlterTableStmt):
        _alter_table(kind, stmt, entry)
    elif isinstance(stmt, ast.CreateEnumStmt):
        name = getattr((stmt.typeName or (None,))[-1], "sval", "")
        if name not in scope.types:
            raise _Refused(kind, f"type {name} is no column's type in the set")
    elif isinstance(stmt, ast.CommentStmt):
        _comment(kind, stmt, entry)
    elif isinstance(stmt, ast.CreateSchemaStmt):
        if stmt.schemaElts or stmt.authrole:
            raise _Refused(kind, "schema elements and AUTHORIZATION are not allowed")
        if stmt.schemaname not in {s for s, _ in scope.tables}:
            raise _Refused(kind, f"{stmt.schemaname} is no schema of the set's tables")
        if not stmt.if_not_exists:
            raise _Refused(kind, "only CREATE SCHEMA IF NOT EXISTS")
    elif isinstance(stmt, ast.CreateExtensionStmt):
        if stmt.extname not in scope.extensions & EXTENSIONS or stmt.options:
            raise _Refused(kind, f"{stmt.extname} is not an allowed extension of the set")
    else:
        raise _Refused(kind, "not a statement --create-schema runs")


def _own(kind: str, rel: ast.RangeVar | None, entry: Name) -> None:
    if pgtree.name(rel) != entry:
        raise _Refused(
            kind, f"on {pgtree.show(pgtree.name(rel))}, but this is the DDL of {pgtree.show(entry)}"
        )


def _alter_table(kind: str, stmt: ast.AlterTableStmt, entry: Name) -> None:
    if stmt.objtype != enums.ObjectType.OBJECT_TABLE:
        raise _Refused(kind, "only ALTER TABLE")
    for cmd in stmt.cmds or ():
        if cmd.subtype == AT.AT_AddConstraint:
            _own(kind, stmt.relation, entry)
        elif cmd.subtype == AT.AT_AttachPartition and isinstance(cmd.def_, ast.PartitionCmd):
            _own(kind, cmd.def_.name, entry)  # the parent is checked with every relation
        else:
            raise _Refused(kind, f"{getattr(cmd.subtype, 'name', cmd.subtype)} is not allowed")


def _sequence_options(
    kind: str, stmt: ast.CreateSeqStmt | ast.AlterSeqStmt, alter: bool, scope: _Scope
) -> None:
    for option in stmt.options or ():
        if option.defname == "owned_by":
            parts: list[str] = [getattr(s, "sval", "") for s in option.arg or ()]
            owner = (parts[0], parts[1]) if len(parts) == 3 else ("public", parts[0])
            if len(parts) > 1 and owner not in scope.tables:
                raise _Refused(kind, f"OWNED BY {pgtree.show(owner)}, not a table of the set")
        elif alter:
            raise _Refused(kind, f"only OWNED BY, not {option.defname}")


def _comment(kind: str, stmt: ast.CommentStmt, entry: Name) -> None:
    parts: list[str] = (
        [getattr(s, "sval", "") for s in stmt.object] if isinstance(stmt.object, tuple) else []
    )
    if stmt.objtype == enums.ObjectType.OBJECT_COLUMN:
        parts = parts[:-1]
    elif stmt.objtype != enums.ObjectType.OBJECT_TABLE:
        raise _Refused(kind, "only COMMENT ON TABLE or COLUMN")
    target = (parts[0], parts[1]) if len(parts) == 2 else ("public", parts[0] if parts else "")
    if target != entry:
        raise _Refused(
            kind, f"on {pgtree.show(target)}, but this is the DDL of {pgtree.show(entry)}"
        )


def _expressions(stmt: ast.Node, scope: _Scope) -> None:
    """Function calls only to a few built-ins; ``nextval`` only of a sequence the DDL creates."""
    for call in pgtree.nodes(stmt, ast.FuncCall):
        names: list[str] = [getattr(s, "sval", "") for s in call.funcname or ()]
        if names[-1] not in FUNCTIONS or names[:-1] not in ([], ["pg_catalog"]):
            raise _Refused(pgtree.kind(stmt), f"function {'.'.join(names)}() is not allowed")
        if names[-1] == "nextval" and _sequence_arg(call) not in scope.sequences:
            raise _Refused(pgtree.kind(stmt), "nextval() of a sequence the set does not create")


def _sequence_arg(call: ast.FuncCall) -> Name | None:
    arg = call.args[0] if call.args and len(call.args) == 1 else None
    if isinstance(arg, ast.TypeCast):
        arg = arg.arg
    if not isinstance(arg, ast.A_Const) or not isinstance(arg.val, ast.String):
        return None
    if arg.val.sval is None:
        return None
    parts = [p.strip('"') for p in arg.val.sval.split(".")]
    return (parts[0], parts[1]) if len(parts) == 2 else ("public", parts[0])


def _partition_of(stmt: ast.Node, tables: set[Name]) -> bool:
    if not isinstance(stmt, ast.CreateStmt) or not stmt.partbound or not stmt.inhRelations:
        return False
    return pgtree.name(stmt.inhRelations[0]) in tables


def _parents(stmts: list[ast.Node]) -> Iterator[Name]:
    """Partitioned tables a table's DDL attaches it to (they are tables of the set too)."""
    for stmt in stmts:
        if isinstance(stmt, ast.CreateStmt) and stmt.partbound and stmt.inhRelations:
            yield pgtree.name(stmt.inhRelations[0])
        if isinstance(stmt, ast.AlterTableStmt) and any(
            c.subtype == AT.AT_AttachPartition for c in stmt.cmds or ()
        ):
            yield pgtree.name(stmt.relation)


def create_missing(
    cur: psycopg.Cursor, manifest: Manifest, *, dry_run: bool, echo: Reporter
) -> None:
    """Create the set's missing tables from its checked DDL (shown in full with ``dry_run``)."""
    schema = check(manifest)
    missing = [t for t, q in schema.qualified.items() if not _exists(cur, q)]
    if not missing:
        return
    verb = "would run" if dry_run else "running"
    for ext in schema.extensions:
        stmt = sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(ext))
        echo(f"  {verb}: {stmt.as_string(cur)}")
        cur.execute(stmt)
    later: list[str] = []  # an FK that closes a cycle: once every table of the cycle exists
    for table in missing:
        echo(f"{'would create' if dry_run else 'creating'} table {table}")
        for statement in schema.tables[table]:
            if _existing_type(cur, statement):  # an enum the database (or another set) has
                continue
            if _adds_foreign_key(statement):
                later.append(statement)
                continue
            (echo if dry_run else echo.detail)(f"  {verb}: {statement}")
            cur.execute(sql.SQL(statement))  # deparsed from the checked tree
    for statement in later:
        (echo if dry_run else echo.detail)(f"  {verb}: {statement}")
        cur.execute(sql.SQL(statement))


def _adds_foreign_key(statement: str) -> bool:
    """A checked ``ALTER TABLE … ADD CONSTRAINT … FOREIGN KEY`` (the DDL of an FK cycle)."""
    if not statement.startswith("ALTER TABLE"):
        return False
    stmt = parse_sql(statement)[0].stmt
    return isinstance(stmt, ast.AlterTableStmt) and any(
        cmd.subtype == AT.AT_AddConstraint
        and isinstance(cmd.def_, ast.Constraint)
        and cmd.def_.contype == enums.ConstrType.CONSTR_FOREIGN
        for cmd in stmt.cmds or ()
    )


def _existing_type(cur: psycopg.Cursor, statement: str) -> bool:
    """A checked ``CREATE TYPE … AS ENUM`` whose type exists already (created by the app's
    migrations, or by an earlier table of a set that shares it)."""
    if not statement.startswith("CREATE TYPE"):
        return False
    stmt = parse_sql(statement)[0].stmt
    if not isinstance(stmt, ast.CreateEnumStmt):
        return False
    parts = [getattr(p, "sval", "") for p in stmt.typeName or ()]
    qualified = sql.Identifier(*(parts if len(parts) > 1 else ["public", *parts])).as_string(cur)
    row = cur.execute("SELECT to_regtype(%s) IS NOT NULL", (qualified,)).fetchone()
    return bool(row and row[0])


def _exists(cur: psycopg.Cursor, name: Name) -> bool:
    row = cur.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p'))",
        name,
    ).fetchone()
    return bool(row and row[0])
