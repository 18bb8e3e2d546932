"""Is each object a load saved there, valid, and the same as its saved definition?

``load`` (before it marks a load complete), ``repair`` (before it reports success) and
``seedgen verify`` all ask this module, so they can never disagree.

PostgreSQL does not always print a definition back as it was written. A partial index built
from ``WHERE status IN ('pending', 'running')`` prints ``… = ANY ((ARRAY['pending'::character
varying, …])::text[])``; rebuilt from that text it prints ``… = ANY (ARRAY[('pending'::character
varying)::text, …])``: the same index, another text. So an object counts as *the same* as the
saved one when what PostgreSQL prints for it now is

1. the saved definition (it was never rebuilt, or prints back unchanged), or
2. what PostgreSQL printed right after seedgen rebuilt it from the saved definition (the
   ledger's ``printed``, written in the transaction that built it), or
3. for an index or a unique/exclusion constraint that seedgen did not build (re-created by
   hand, or by a seedgen older than ``printed``): the same text as the saved definition once
   *both* are built on an empty copy of the table (``CREATE TEMP TABLE … (LIKE …)``, in a
   savepoint that is rolled back) and printed. Both went through the same parse and print, so
   equal text means equal objects; a different object prints differently.

A foreign key prints its columns, the referenced table and its actions, no expressions, so its
text is compared as is (1 or 2); a temporary table could not hold one to a permanent table.
Valid means ``pg_index.indisvalid`` / ``pg_constraint.convalidated``; a trigger must exist with
its saved enable mode.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from loader import catalog
from loader.catalog import Constraint, Index, Snapshot, trigger_enabled

Object = Index | Constraint
_CLONE = sql.Identifier("pg_temp", "seedgen_canon")
_NOT_VALID = " NOT VALID"


@dataclass(frozen=True)
class Live:
    printed: str  # pg_get_indexdef / pg_get_constraintdef, without a trailing NOT VALID
    valid: bool


def state(cur: psycopg.Cursor, obj: Object) -> Live | None:
    """The object of that name on its table, as PostgreSQL prints it now (None if absent)."""
    row = catalog.printed(cur, obj)
    if row is None:
        return None
    printed, valid = str(row[0]), bool(row[1])
    return Live(printed.removesuffix(_NOT_VALID) if not valid else printed, valid)


def same(cur: psycopg.Cursor, obj: Object, printed: str) -> bool:
    """Whether ``printed`` (what PostgreSQL prints for the live object) is the saved object."""
    if printed in (obj.definition, obj.printed):
        return True
    if isinstance(obj, Constraint) and obj.kind == "f":
        return False
    canonical = _canonical(cur, obj, [obj.definition, printed])
    return canonical[0] is not None and canonical[0] == canonical[1]


def problems(cur: psycopg.Cursor, saved: Snapshot) -> list[str]:
    """Every saved object that is missing, not valid, different, or (a trigger) not enabled
    as it was; empty when the database holds them all as saved."""
    out = []
    saved_objects: list[Object] = [*saved.indexes, *saved.constraints]
    for obj in saved_objects:
        live = state(cur, obj)
        kind = "index" if isinstance(obj, Index) else "constraint"
        where = f"{obj.schema}.{obj.name}" if isinstance(obj, Index) else f"{obj.table}.{obj.name}"
        if live is None:
            out.append(f"{kind} missing: {obj.definition if kind == 'index' else where}")
        elif not same(cur, obj, live.printed):
            out.append(f"{kind} {where} differs: it is `{live.printed}`, saved `{obj.definition}`")
        elif not live.valid:
            out.append(f"{kind} {where} is not {'valid' if kind == 'index' else 'validated'}")
    for trg in saved.triggers:
        if trigger_enabled(cur, trg) != trg.enabled:
            out.append(f"trigger missing or disabled: {trg.table}.{trg.name}")
    return out


def _canonical(cur: psycopg.Cursor, obj: Object, texts: list[str]) -> list[str | None]:
    """Each text built on an empty copy of the object's table and printed (None: it does not
    build there); nothing of it survives the rolled-back savepoint."""
    out: list[str | None] = []
    conn = cur.connection
    with conn.transaction(force_rollback=True):
        try:
            with conn.transaction():
                clone = sql.SQL("CREATE TEMP TABLE {} (LIKE {})")
                cur.execute(clone.format(_CLONE, sql.Identifier(obj.schema, obj.table)))
        except psycopg.Error:  # no TEMP privilege, a read-only standby: cannot tell, not same
            return [None] * len(texts)
        for text in texts:
            statement = _on_clone(cur, obj, text)
            try:
                with conn.transaction(force_rollback=True):
                    if statement is None:
                        raise psycopg.errors.SyntaxError("not a definition seedgen printed")
                    cur.execute(statement)
                    out.append(_print_clone(cur, obj))
            except psycopg.Error:
                out.append(None)
    return out


def _on_clone(cur: psycopg.Cursor, obj: Object, text: str) -> sql.Composed | None:
    """The statement that builds ``text`` on the clone, as ``seedgen_canon_idx`` / ``_con``.

    A constraint's text is its body. An index's is ``pg_get_indexdef`` output, whose head is
    fixed: ``CREATE [UNIQUE ]INDEX <name> ON [ONLY ]<schema>.<table> USING …`` with each
    identifier quoted by ``quote_ident``; a text with another head is not ours (None).
    """
    if isinstance(obj, Constraint):
        return sql.SQL("ALTER TABLE {} ADD CONSTRAINT seedgen_canon_con {}").format(
            _CLONE, sql.SQL(text)
        )
    row = cur.execute(
        "SELECT quote_ident(%s), quote_ident(%s) || '.' || quote_ident(%s)",
        (obj.name, obj.schema, obj.table),
    ).fetchone()
    assert row is not None
    for unique in ("", "UNIQUE "):
        for only in ("", "ONLY "):
            head = f"CREATE {unique}INDEX {row[0]} ON {only}{row[1]} USING "
            if text.startswith(head):
                return sql.SQL("CREATE {}INDEX seedgen_canon_idx ON {} USING {}").format(
                    sql.SQL(unique), _CLONE, sql.SQL(text[len(head) :])
                )
    return None


def _print_clone(cur: psycopg.Cursor, obj: Object) -> str:
    if isinstance(obj, Index):
        query = "SELECT pg_get_indexdef('pg_temp.seedgen_canon_idx'::regclass)"
    else:
        query = (
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'pg_temp.seedgen_canon'::regclass AND conname = 'seedgen_canon_con'"
        )
    row = cur.execute(query).fetchone()
    assert row is not None
    return str(row[0])
