"""Capture, drop and rebuild the objects that slow a bulk load, from the catalog's own DDL.

Captured for the target tables before anything is dropped:

- secondary indexes (``pg_get_indexdef``), except those a constraint owns or depends on: the
  primary key, indexes FKs reference, and partition indexes attached to a parent index;
- UNIQUE/EXCLUDE constraints (``pg_get_constraintdef``) no FK depends on;
- FOREIGN KEY constraints declared on the target tables;
- enabled user triggers, with their enable mode (origin/replica/always);
- sequences the target columns use: owned or identity sequences and any sequence a column
  default calls ``nextval`` on (a shared, unowned sequence too).

Rebuilding replays exactly the captured text: indexes, then constraints, then FKs, then triggers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

_ENABLE = {"O": "ENABLE TRIGGER", "R": "ENABLE REPLICA TRIGGER", "A": "ENABLE ALWAYS TRIGGER"}


@dataclass(frozen=True)
class Index:
    schema: str
    table: str
    name: str
    definition: str
    printed: str | None = None  # what PostgreSQL printed after seedgen rebuilt it (ledger only)


@dataclass(frozen=True)
class Constraint:
    schema: str
    table: str
    name: str
    kind: str  # 'f' foreign key, 'u' unique, 'x' exclusion
    definition: str
    printed: str | None = None  # as for Index


@dataclass(frozen=True)
class Trigger:
    schema: str
    table: str
    name: str
    enabled: str  # pg_trigger.tgenabled: O, R or A


@dataclass(frozen=True)
class SequenceUse:
    seq_schema: str
    seq_name: str
    schema: str
    table: str
    column: str


@dataclass
class Snapshot:
    indexes: list[Index] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)
    triggers: list[Trigger] = field(default_factory=list)
    sequences: list[SequenceUse] = field(default_factory=list)

    def summary(self) -> str:
        fks = sum(c.kind == "f" for c in self.constraints)
        return (
            f"{len(self.indexes)} indexes, {len(self.constraints) - fks} unique/exclusion "
            f"constraints, {fks} foreign keys, {len(self.triggers)} triggers"
        )


_INDEXES = """
SELECT n.nspname, t.relname, c.relname, pg_get_indexdef(i.indexrelid)
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE i.indrelid = ANY(%(oids)s)
  AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
  AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
ORDER BY t.relname, c.relname
"""

_CONSTRAINTS = """
SELECT n.nspname, t.relname, k.conname, k.contype, pg_get_constraintdef(k.oid)
FROM pg_constraint k
JOIN pg_class t ON t.oid = k.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE k.conrelid = ANY(%(oids)s)
  AND k.conparentid = 0
  AND (k.contype = 'f'
       OR (k.contype IN ('u', 'x') AND NOT EXISTS (
           SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = k.conindid)))
ORDER BY k.contype DESC, t.relname, k.conname
"""

_TRIGGERS = """
SELECT n.nspname, t.relname, g.tgname, g.tgenabled
FROM pg_trigger g
JOIN pg_class t ON t.oid = g.tgrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE g.tgrelid = ANY(%(oids)s) AND NOT g.tgisinternal AND g.tgenabled <> 'D'
ORDER BY t.relname, g.tgname
"""

_SEQUENCES = """
SELECT DISTINCT sn.nspname, s.relname, n.nspname, t.relname, a.attname
FROM pg_depend d
JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_class t ON t.oid = d.refobjid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
  AND d.deptype IN ('a', 'i') AND d.refobjid = ANY(%(oids)s)
UNION
SELECT DISTINCT sn.nspname, s.relname, n.nspname, t.relname, a.attname
FROM pg_attrdef ad
JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
                AND d.refclassid = 'pg_class'::regclass
JOIN pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_class t ON t.oid = ad.adrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
WHERE ad.adrelid = ANY(%(oids)s)
ORDER BY 1, 2, 3, 4, 5
"""


_FOREIGN_KEYS = """
SELECT k.conname, n.nspname, t.relname, rn.nspname, r.relname,
       array(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY c(n, o)
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = c.n ORDER BY c.o),
       array(SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY c(n, o)
             JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = c.n ORDER BY c.o)
FROM pg_constraint k
JOIN pg_class t ON t.oid = k.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
WHERE k.contype = 'f' AND (%(cloned)s OR k.conparentid = 0) AND k.conrelid = ANY(%(oids)s)
ORDER BY t.relname, k.conname
"""


@dataclass(frozen=True)
class ForeignKeyColumns:
    name: str
    schema: str
    table: str
    parent_schema: str
    parent_table: str
    columns: list[str]
    parent_columns: list[str]


def foreign_keys(
    cur: psycopg.Cursor, oids: list[int], *, cloned: bool = False
) -> list[ForeignKeyColumns]:
    """FKs declared on ``oids`` with their column lists; ``cloned`` also lists the copies a
    partition inherits from its parent's FK (each partition has its own)."""
    return [
        ForeignKeyColumns(name, schema, table, pschema, ptable, list(cols), list(pcols))
        for name, schema, table, pschema, ptable, cols, pcols in cur.execute(
            _FOREIGN_KEYS, {"oids": oids, "cloned": cloned}
        ).fetchall()
    ]


def table_oids(cur: psycopg.Cursor, tables: list[tuple[str, str]]) -> list[int]:
    oids = []
    for schema, name in tables:
        row = cur.execute(
            "SELECT to_regclass(%s)::oid", (sql.Identifier(schema, name).as_string(cur),)
        ).fetchone()
        if row and row[0] is not None:
            oids.append(int(row[0]))
    return oids


def capture(cur: psycopg.Cursor, tables: list[tuple[str, str]]) -> Snapshot:
    params = {"oids": table_oids(cur, tables)}
    snap = Snapshot()
    snap.indexes = [Index(*row) for row in cur.execute(_INDEXES, params)]
    snap.constraints = [Constraint(*row) for row in cur.execute(_CONSTRAINTS, params)]
    snap.triggers = [Trigger(*row) for row in cur.execute(_TRIGGERS, params)]
    snap.sequences = sequence_uses(cur, tables, params["oids"])
    return snap


def sequence_uses(
    cur: psycopg.Cursor, tables: list[tuple[str, str]], oids: list[int] | None = None
) -> list[SequenceUse]:
    """Every (sequence, table, column) where a column of ``tables`` draws from a sequence."""
    params = {"oids": table_oids(cur, tables) if oids is None else oids}
    return [SequenceUse(*row) for row in cur.execute(_SEQUENCES, params)]


def column_max(cur: psycopg.Cursor, uses: list[SequenceUse]) -> int | None:
    """The largest value over the columns of ``uses`` (None if they are all empty)."""
    maxima = sql.SQL(", ").join(
        sql.SQL("(SELECT max({})::bigint FROM {})").format(
            sql.Identifier(u.column), sql.Identifier(u.schema, u.table)
        )
        for u in uses
    )
    row = cur.execute(sql.SQL("SELECT GREATEST({})").format(maxima)).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def sequence_state(cur: psycopg.Cursor, schema: str, name: str) -> tuple[int, bool]:
    row = cur.execute(
        sql.SQL("SELECT last_value, is_called FROM {}").format(sql.Identifier(schema, name))
    ).fetchone()
    assert row is not None
    return int(row[0]), bool(row[1])


def next_value(cur: psycopg.Cursor, schema: str, name: str) -> int:
    """What ``nextval`` would return, without consuming it."""
    last, called = sequence_state(cur, schema, name)
    return last + 1 if called else last


def drop_statements(snap: Snapshot) -> list[sql.SQL | sql.Composed]:
    """FKs first (they may reference unique constraints), then constraints, then indexes."""
    out: list[sql.SQL | sql.Composed] = []
    for con in sorted(snap.constraints, key=lambda c: c.kind != "f"):
        out.append(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.Identifier(con.schema, con.table), sql.Identifier(con.name)
            )
        )
    for idx in snap.indexes:
        out.append(sql.SQL("DROP INDEX {}").format(sql.Identifier(idx.schema, idx.name)))
    for trg in snap.triggers:
        out.append(
            sql.SQL("ALTER TABLE {} DISABLE TRIGGER {}").format(
                sql.Identifier(trg.schema, trg.table), sql.Identifier(trg.name)
            )
        )
    return out


def rebuild_statements(snap: Snapshot) -> list[sql.SQL | sql.Composed]:
    """What restoring ``snap`` runs (``loader.restore`` executes the same statements)."""
    out: list[sql.SQL | sql.Composed] = [sql.SQL(recursive(i.definition)) for i in snap.indexes]
    out += [
        add_constraint_statement(c) for c in sorted(snap.constraints, key=lambda c: c.kind == "f")
    ]
    out += [enable_statement(trg) for trg in snap.triggers]
    return out


def reset_sequences(cur: psycopg.Cursor, uses: list[SequenceUse]) -> list[tuple[str, int]]:
    """Move each used sequence to the largest loaded key (nextval is then above it)."""
    by_seq: dict[tuple[str, str], list[SequenceUse]] = {}
    for use in uses:
        by_seq.setdefault((use.seq_schema, use.seq_name), []).append(use)
    done = []
    for seq, seq_uses in by_seq.items():
        top = column_max(cur, seq_uses)
        if top is None:
            continue
        last, called = sequence_state(cur, *seq)
        # A sequence never used yet (e.g. START 3000000) is set to the loaded maximum, as the
        # reference asks; one that has handed out values never moves backwards.
        target = max(top, last) if called else top
        cur.execute(
            "SELECT setval(%s::regclass, %s, true)", (sql.Identifier(*seq).as_string(cur), target)
        )
        done.append((".".join(seq), target))
    return done


def present(cur: psycopg.Cursor, snap: Snapshot) -> Snapshot:
    """The part of ``snap`` that exists (indexes, constraints) or is enabled (triggers) now."""
    out = Snapshot(sequences=snap.sequences)
    for idx in snap.indexes:
        if index_exists(cur, idx):
            out.indexes.append(idx)
    for con in snap.constraints:
        if constraint_state(cur, con) is not None:
            out.constraints.append(con)
    for trg in snap.triggers:
        if trigger_enabled(cur, trg) not in (None, "D"):
            out.triggers.append(trg)
    return out


def relation_exists(cur: psycopg.Cursor, schema: str, name: str) -> bool:
    """Whether a table, index or other relation of that name exists."""
    row = cur.execute(
        "SELECT to_regclass(%s) IS NOT NULL", (sql.Identifier(schema, name).as_string(cur),)
    ).fetchone()
    return bool(row and row[0])


def index_exists(cur: psycopg.Cursor, idx: Index) -> bool:
    return relation_exists(cur, idx.schema, idx.name)


def constraint_state(cur: psycopg.Cursor, con: Constraint) -> bool | None:
    """None if absent, else whether it is validated."""
    row = printed(cur, con)
    return None if row is None else row[1]


def printed(cur: psycopg.Cursor, obj: Index | Constraint) -> tuple[str, bool] | None:
    """How PostgreSQL prints the index or constraint of that name on its table now, and whether
    it is valid (``indisvalid``) or validated (``convalidated``); None if there is none."""
    if isinstance(obj, Index):
        query = (
            "SELECT pg_get_indexdef(i.indexrelid), i.indisvalid FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND t.relname = %s AND c.relname = %s"
        )
    else:
        query = (
            "SELECT pg_get_constraintdef(k.oid), k.convalidated FROM pg_constraint k "
            "JOIN pg_class t ON t.oid = k.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
            "WHERE n.nspname = %s AND t.relname = %s AND k.conname = %s"
        )
    row = cur.execute(query, (obj.schema, obj.table, obj.name)).fetchone()
    return None if row is None else (str(row[0]), bool(row[1]))


def trigger_enabled(cur: psycopg.Cursor, trg: Trigger) -> str | None:
    row = cur.execute(
        "SELECT g.tgenabled FROM pg_trigger g JOIN pg_class t ON t.oid = g.tgrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE n.nspname = %s AND t.relname = %s AND g.tgname = %s",
        (trg.schema, trg.table, trg.name),
    ).fetchone()
    return None if row is None else str(row[0])


def enable_statement(trg: Trigger) -> sql.Composed:
    return sql.SQL("ALTER TABLE {} {} {}").format(
        sql.Identifier(trg.schema, trg.table),
        sql.SQL(_ENABLE[trg.enabled]),
        sql.Identifier(trg.name),
    )


def recursive(definition: str) -> str:
    """An index definition that builds on every partition: ``pg_get_indexdef`` prints a
    partitioned table's index ``ON ONLY`` it, which would leave the index invalid."""
    head, on, rest = definition.partition(" ON ONLY ")
    return f"{head} ON {rest}" if on and head.startswith("CREATE ") else definition


def add_constraint_statement(con: Constraint, *, not_valid: bool = False) -> sql.Composed:
    suffix = sql.SQL(" NOT VALID") if not_valid and con.kind == "f" else sql.SQL("")
    return sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}{}").format(
        sql.Identifier(con.schema, con.table),
        sql.Identifier(con.name),
        sql.SQL(con.definition),
        suffix,
    )
