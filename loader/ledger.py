"""The ledger: what seedgen is loading or has loaded, kept in the target database.

Its tables live in schema ``seedgen``:

- ``seedgen.loads``: one row per load: the set's identity (dataset, seed and, in the column
  ``manifest_sha256``, ``seedgen.manifest.set_identity``: a hash of the set's content, so a
  regenerated identical set is the same set; ledgers written before hold the checksum of the
  manifest file, which ``latest`` still matches), its
  directory, rows and key ranges per table, and a status: ``running`` until every object is
  restored and the counts check, then ``complete``; ``rolled_back`` after an error was undone;
  ``repaired`` after ``seedgen repair`` restored the objects of an abandoned load; ``reset``
  after ``seedgen reset`` removed its rows; ``partially_reset`` after a scoped reset removed
  some of its tables' rows (``seedgen.reset_tables`` says which), until the last scope.
- ``seedgen.saved_objects``: every index, constraint and trigger the load dropped, with the
  definition captured *before* the drop, whether it is back (``restored``: set false in the
  transaction that drops it, true in the one that rebuilds it) and ``printed``, what PostgreSQL
  printed for the object seedgen rebuilt (it may spell an expression differently from the text it
  was built from; ``loader.objects`` compares both). Written and committed before anything is
  dropped, never deleted: ``seedgen verify`` compares against it later. ``loader.restore`` does
  not trust the flag to know what is missing: it asks the catalog.
- ``seedgen.loaded_shards``: a row per shard, inserted in the same transaction as its COPY, so a
  shard is loaded exactly once whatever crashes when.
- ``seedgen.merged_tables`` (``--append``): a row per table merged from staging, committed with
  the merge: rows inserted and rows not inserted by reason.
- ``seedgen.reset_tables``: a row per table a (scoped) reset has emptied of a load's rows.
- ``seedgen.post_load_steps``: a row per post-load step that committed, in the step's own
  transaction (``loader.post_load``, which creates the table), so a resumed load starts at the
  first step without one.
- ``seedgen.conflicts`` (``--append``): every staged row kept out because its key or a unique
  value was taken (``present``, ``remap``, ``drop``), with the existing row's key: the warning's
  list, and what ``seedgen reset`` consults so it never deletes a row another load still uses.

``loads.mode`` is ``initial`` or ``append``; ``loads.plan`` the per-table plan (strategy, keys).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

import seedgen
from loader.catalog import Constraint, Index, Snapshot, Trigger, relation_exists
from seedgen.manifest import Manifest

_DDL = [
    "CREATE SCHEMA IF NOT EXISTS seedgen",
    """CREATE TABLE IF NOT EXISTS seedgen.loads (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        started_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        status text NOT NULL DEFAULT 'running'
            CHECK (status IN ('running', 'complete', 'rolled_back', 'repaired', 'reset')),
        dataset text NOT NULL,
        seed bigint NOT NULL,
        manifest_sha256 text NOT NULL,
        set_dir text NOT NULL,
        seedgen_version text NOT NULL,
        tables jsonb NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS seedgen.saved_objects (
        load_id bigint NOT NULL REFERENCES seedgen.loads (id),
        ord integer NOT NULL,
        kind text NOT NULL CHECK (kind IN ('index', 'constraint', 'trigger')),
        schema_name text NOT NULL,
        table_name text NOT NULL,
        name text NOT NULL,
        definition text NOT NULL,
        detail text NOT NULL,
        restored boolean NOT NULL DEFAULT false,
        PRIMARY KEY (load_id, ord)
    )""",
    """CREATE TABLE IF NOT EXISTS seedgen.loaded_shards (
        load_id bigint NOT NULL REFERENCES seedgen.loads (id),
        table_name text NOT NULL,
        shard integer NOT NULL,
        rows bigint NOT NULL,
        loaded_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (load_id, table_name, shard)
    )""",
    "ALTER TABLE seedgen.loads ADD COLUMN IF NOT EXISTS mode text NOT NULL DEFAULT 'initial'",
    "ALTER TABLE seedgen.loads ADD COLUMN IF NOT EXISTS plan jsonb",
    """CREATE TABLE IF NOT EXISTS seedgen.merged_tables (
        load_id bigint NOT NULL REFERENCES seedgen.loads (id),
        table_name text NOT NULL,
        inserted bigint NOT NULL,
        not_inserted jsonb NOT NULL,
        merged_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (load_id, table_name)
    )""",
    """CREATE TABLE IF NOT EXISTS seedgen.conflicts (
        load_id bigint NOT NULL REFERENCES seedgen.loads (id),
        table_name text NOT NULL,
        action text NOT NULL,
        key_name text NOT NULL,
        value text,
        existing_key text
    )""",
    "CREATE INDEX IF NOT EXISTS conflicts_load ON seedgen.conflicts (load_id, table_name)",
    "ALTER TABLE seedgen.saved_objects ADD COLUMN IF NOT EXISTS printed text",
]


# A ledger written before ``mode`` existed reads as all initial loads (to_jsonb: no column error).
_LOAD_ROW = (
    "SELECT id, status, started_at, set_dir, manifest_sha256, "
    "coalesce(to_jsonb(l) ->> 'mode', 'initial') FROM seedgen.loads l "
)


@dataclass(frozen=True)
class LoadRow:
    id: int
    status: str
    started_at: Any
    set_dir: str
    manifest_sha256: str
    mode: str = "initial"


def ensure(cur: psycopg.Cursor) -> None:
    for statement in _DDL:
        cur.execute(statement)


def exists(cur: psycopg.Cursor) -> bool:
    return relation_exists(cur, "seedgen", "loads")


def latest(cur: psycopg.Cursor, identity: str | Sequence[str] | None = None) -> LoadRow | None:
    """The newest load (of one set, if ``identity``: any of its identities) that is not rolled
    back or reset."""
    if not exists(cur):
        return None
    ids = [identity] if isinstance(identity, str) else None if identity is None else list(identity)
    row = cur.execute(
        _LOAD_ROW + "WHERE status NOT IN ('rolled_back', 'reset') "
        "AND (%(ids)s::text[] IS NULL OR manifest_sha256 = ANY(%(ids)s)) "
        "ORDER BY id DESC LIMIT 1",
        {"ids": ids},
    ).fetchone()
    return LoadRow(*row) if row else None


def running(cur: psycopg.Cursor) -> LoadRow | None:
    if not exists(cur):
        return None
    row = cur.execute(_LOAD_ROW + "WHERE status = 'running' ORDER BY id DESC LIMIT 1").fetchone()
    return LoadRow(*row) if row else None


def start(
    cur: psycopg.Cursor,
    manifest: Manifest,
    checksum: str,
    set_dir: str,
    snap: Snapshot,
    *,
    mode: str = "initial",
    plan: list[dict[str, Any]] | None = None,
) -> int:
    """Record the load and every object it is about to drop (commit before dropping)."""
    ensure(cur)
    tables = {
        t.name: {
            "schema": t.schema_name,
            "relation": t.qualified[1],  # "invoices" of the set's "billing.invoices"
            "rows": t.rows,
            "key_ranges": t.key_ranges,
        }
        for t in manifest.tables
    }
    row = cur.execute(
        "INSERT INTO seedgen.loads (dataset, seed, manifest_sha256, set_dir, seedgen_version, "
        "tables, mode, plan) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (
            manifest.dataset,
            manifest.seed,
            checksum,
            set_dir,
            seedgen.__version__,
            Jsonb(tables),
            mode,
            Jsonb(plan or []),
        ),
    ).fetchone()
    assert row is not None
    load_id = int(row[0])
    rows = [
        *(("index", i.schema, i.table, i.name, i.definition, "") for i in snap.indexes),
        *(
            ("constraint", c.schema, c.table, c.name, c.definition, c.kind)
            for c in snap.constraints
        ),
        *(("trigger", t.schema, t.table, t.name, "", t.enabled) for t in snap.triggers),
    ]
    with cur.copy(
        "COPY seedgen.saved_objects (load_id, ord, kind, schema_name, table_name, name, "
        "definition, detail) FROM STDIN"
    ) as copy:
        for ord_, values in enumerate(rows):
            copy.write_row((load_id, ord_, *values))
    return load_id


def saved(cur: psycopg.Cursor, load_id: int) -> Snapshot:
    """The objects a load dropped, with what PostgreSQL printed for those seedgen rebuilt.

    Whether each is there now is the catalog's to say (``loader.objects``), not the flag's.
    """
    snap = Snapshot()
    for kind, schema, table, name, definition, detail, printed in cur.execute(
        "SELECT kind, schema_name, table_name, name, definition, detail, "
        "to_jsonb(s) ->> 'printed' "  # no column error on a ledger written before it existed
        "FROM seedgen.saved_objects s WHERE load_id = %s ORDER BY ord",
        (load_id,),
    ):
        if kind == "index":
            snap.indexes.append(Index(schema, table, name, definition, printed))
        elif kind == "constraint":
            snap.constraints.append(Constraint(schema, table, name, detail, definition, printed))
        else:
            snap.triggers.append(Trigger(schema, table, name, detail))
    return snap


def mark_restored(
    cur: psycopg.Cursor,
    load_id: int,
    schema: str,
    table: str,
    name: str,
    printed: str | None = None,
) -> None:
    """The object is back; ``printed``: how PostgreSQL prints it, if seedgen just built it."""
    cur.execute(
        "UPDATE seedgen.saved_objects SET restored = true, printed = coalesce(%s, printed) "
        "WHERE load_id = %s AND schema_name = %s AND table_name = %s AND name = %s",
        (printed, load_id, schema, table, name),
    )


def mark_dropped(cur: psycopg.Cursor, load_id: int, snap: Snapshot) -> None:
    """In the transaction that drops (or disables) them: these objects are no longer there."""
    objects: list[Index | Constraint | Trigger] = [*snap.indexes, *snap.constraints, *snap.triggers]
    cur.execute(
        "UPDATE seedgen.saved_objects SET restored = false, printed = NULL WHERE load_id = %s "
        "AND (schema_name, table_name, name) IN (SELECT * FROM unnest(%s::text[], %s::text[], "
        "%s::text[]))",
        (
            load_id,
            [o.schema for o in objects],
            [o.table for o in objects],
            [o.name for o in objects],
        ),
    )


def set_tables(cur: psycopg.Cursor, load_id: int) -> list[tuple[str, str]]:
    """The load's tables (schema, name), parents first (the manifest's order, kept by the plan;
    a ledger from before plans existed: its tables in name order)."""
    row = cur.execute(
        "SELECT tables, coalesce(to_jsonb(l) -> 'plan', '[]') FROM seedgen.loads l WHERE id = %s",
        (load_id,),
    ).fetchone()
    assert row is not None
    tables, plans = dict(row[0]), list(row[1])
    order = [p["table"] for p in sorted(plans, key=lambda p: p["position"])] or sorted(tables)
    return [
        (str(tables[name]["schema"]), str(tables[name].get("relation", name))) for name in order
    ]


def loaded_shards(cur: psycopg.Cursor, load_id: int) -> dict[tuple[str, int], int]:
    return {
        (table, shard): rows
        for table, shard, rows in cur.execute(
            "SELECT table_name, shard, rows FROM seedgen.loaded_shards WHERE load_id = %s",
            (load_id,),
        )
    }


def mark_shard(cur: psycopg.Cursor, load_id: int, table: str, shard: int, rows: int) -> None:
    cur.execute(
        "INSERT INTO seedgen.loaded_shards (load_id, table_name, shard, rows) "
        "VALUES (%s, %s, %s, %s)",
        (load_id, table, shard, rows),
    )


def finish(cur: psycopg.Cursor, load_id: int, status: str) -> None:
    cur.execute(
        "UPDATE seedgen.loads SET status = %s, finished_at = now() WHERE id = %s",
        (status, load_id),
    )


def forget_shards(cur: psycopg.Cursor, load_id: int, table: str | None = None) -> None:
    """Forget a load's committed shards (of one table, if ``table``)."""
    cur.execute(
        "DELETE FROM seedgen.loaded_shards WHERE load_id = %s "
        "AND (%s::text IS NULL OR table_name = %s)",
        (load_id, table, table),
    )


def plan(cur: psycopg.Cursor, load_id: int) -> list[dict[str, Any]]:
    row = cur.execute("SELECT plan FROM seedgen.loads WHERE id = %s", (load_id,)).fetchone()
    return list(row[0] or []) if row else []


def mark_merged(
    cur: psycopg.Cursor, load_id: int, table: str, inserted: int, not_inserted: dict[str, int]
) -> None:
    cur.execute(
        "INSERT INTO seedgen.merged_tables (load_id, table_name, inserted, not_inserted) "
        "VALUES (%s, %s, %s, %s)",
        (load_id, table, inserted, Jsonb(not_inserted)),
    )


def merged(cur: psycopg.Cursor, load_id: int) -> dict[str, tuple[int, dict[str, int]]]:
    """Tables of an append already merged: rows inserted, rows not inserted by reason."""
    return {
        table: (int(inserted), dict(not_inserted))
        for table, inserted, not_inserted in cur.execute(
            "SELECT table_name, inserted, not_inserted FROM seedgen.merged_tables "
            "WHERE load_id = %s",
            (load_id,),
        )
    }


def forget_merges(cur: psycopg.Cursor, load_id: int) -> None:
    cur.execute("DELETE FROM seedgen.merged_tables WHERE load_id = %s", (load_id,))
    cur.execute("DELETE FROM seedgen.conflicts WHERE load_id = %s", (load_id,))


def used_by_others(cur: psycopg.Cursor, load_id: int, table: str) -> dict[int, list[str]]:
    """Keys (``jsonb`` array text) of ``table`` that other loads whose rows remain kept as
    theirs (``present``) or remapped onto, by load."""
    out: dict[int, list[str]] = {}
    for other, key in cur.execute(
        "SELECT DISTINCT c.load_id, c.existing_key FROM seedgen.conflicts c "
        "JOIN seedgen.loads l ON l.id = c.load_id "
        "WHERE c.table_name = %s AND c.load_id <> %s "
        "AND l.status IN ('running', 'complete', 'repaired', 'partially_reset') "
        "AND c.action IN ('present', 'remap') AND c.existing_key IS NOT NULL",
        (table, load_id),
    ):
        out.setdefault(int(other), []).append(key)
    return out


def appended_since(cur: psycopg.Cursor, load_id: int) -> dict[str, int]:
    """Rows per table inserted by live ``--append`` loads that came after ``load_id``."""
    if not relation_exists(cur, "seedgen", "merged_tables"):  # a ledger from before --append
        return {}
    return {
        table: int(rows)
        for table, rows in cur.execute(
            "SELECT m.table_name, sum(m.inserted) FROM seedgen.merged_tables m "
            "JOIN seedgen.loads l ON l.id = m.load_id "
            "WHERE l.id > %s AND l.status IN ('complete', 'running', 'repaired', "
            "'partially_reset') GROUP BY 1",
            (load_id,),
        )
    }


# ------------------------------------------------------------------------ scoped resets
# Kept apart from the DDL above: only ``seedgen reset`` needs them, and a ledger written before
# they existed is upgraded the first time a reset runs (in the reset's own transaction).

_STATUSES = ("running", "complete", "rolled_back", "repaired", "reset", "partially_reset")


def ensure_reset_tables(cur: psycopg.Cursor) -> None:
    """``seedgen.reset_tables`` and the ``partially_reset`` status (call after ``ensure``)."""
    cur.execute(
        """CREATE TABLE IF NOT EXISTS seedgen.reset_tables (
            load_id bigint NOT NULL REFERENCES seedgen.loads (id),
            table_name text NOT NULL,
            rows bigint NOT NULL,
            how text NOT NULL CHECK (how IN ('delete', 'truncate')),
            reset_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (load_id, table_name)
        )"""
    )
    check = cur.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'seedgen.loads'::regclass AND conname = 'loads_status_check'"
    ).fetchone()
    if check is None or "partially_reset" not in check[0]:
        cur.execute(
            sql.SQL(
                "ALTER TABLE seedgen.loads DROP CONSTRAINT IF EXISTS loads_status_check, "
                "ADD CONSTRAINT loads_status_check CHECK (status IN ({}))"
            ).format(sql.SQL(", ").join(sql.Literal(s) for s in _STATUSES))
        )


def tables_reset(cur: psycopg.Cursor, load_id: int) -> dict[str, int]:
    """Tables a scoped reset has already emptied of the load's rows, with the rows it removed."""
    if not relation_exists(cur, "seedgen", "reset_tables"):
        return {}
    return {
        table: int(rows)
        for table, rows in cur.execute(
            "SELECT table_name, rows FROM seedgen.reset_tables WHERE load_id = %s", (load_id,)
        )
    }


def mark_tables_reset(
    cur: psycopg.Cursor, load_id: int, removed: dict[str, tuple[int, str]]
) -> None:
    """Record the tables a reset emptied of the load's rows: rows removed and how."""
    for table, (rows, how) in removed.items():
        cur.execute(
            "INSERT INTO seedgen.reset_tables (load_id, table_name, rows, how) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (load_id, table_name) DO UPDATE "
            "SET rows = seedgen.reset_tables.rows + excluded.rows, how = excluded.how, "
            "reset_at = now()",
            (load_id, table, rows, how),
        )


def live(cur: psycopg.Cursor) -> list[tuple[LoadRow, str, int]]:
    """Every load whose rows may be in the database, newest first, with dataset and seed."""
    if not exists(cur):
        return []
    return [
        (LoadRow(*row[:6]), str(row[6]), int(row[7]))
        for row in cur.execute(
            "SELECT id, status, started_at, set_dir, manifest_sha256, "
            "coalesce(to_jsonb(l) ->> 'mode', 'initial'), dataset, seed FROM seedgen.loads l "
            "WHERE status NOT IN ('rolled_back', 'reset') ORDER BY id DESC"
        )
    ]
