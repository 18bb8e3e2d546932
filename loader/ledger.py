"""The ledger: what seedgen is loading or has loaded, kept in the target database.

Its tables live in schema ``seedgen``:

- ``seedgen.loads``: one row per load: the set's identity (dataset, seed, manifest checksum), its
  directory, rows and key ranges per table, and a status: ``running`` until every object is
  restored and the counts check, then ``complete``; ``rolled_back`` after an error was undone;
  ``repaired`` after ``seedgen repair`` restored the objects of an abandoned load; ``reset``
  after ``seedgen reset`` removed its rows.
- ``seedgen.saved_objects``: every index, constraint and trigger the load dropped, with the
  definition captured *before* the drop and whether it has been restored. Written and committed
  before anything is dropped, never deleted: ``seedgen verify`` compares against it later.
- ``seedgen.loaded_shards``: a row per shard, inserted in the same transaction as its COPY, so a
  shard is loaded exactly once whatever crashes when.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

import seedgen
from loader.catalog import Constraint, Index, Snapshot, Trigger
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
]


@dataclass(frozen=True)
class LoadRow:
    id: int
    status: str
    started_at: Any
    set_dir: str
    manifest_sha256: str


def ensure(cur: psycopg.Cursor) -> None:
    for statement in _DDL:
        cur.execute(statement)


def exists(cur: psycopg.Cursor) -> bool:
    row = cur.execute("SELECT to_regclass('seedgen.loads') IS NOT NULL").fetchone()
    return bool(row and row[0])


def latest(cur: psycopg.Cursor, checksum: str | None = None) -> LoadRow | None:
    """The newest load (of one set, if ``checksum``) that is not rolled back."""
    if not exists(cur):
        return None
    row = cur.execute(
        "SELECT id, status, started_at, set_dir, manifest_sha256 FROM seedgen.loads "
        "WHERE status NOT IN ('rolled_back', 'reset') "
        "AND (%(sha)s::text IS NULL OR manifest_sha256 = %(sha)s) "
        "ORDER BY id DESC LIMIT 1",
        {"sha": checksum},
    ).fetchone()
    return LoadRow(*row) if row else None


def running(cur: psycopg.Cursor) -> LoadRow | None:
    if not exists(cur):
        return None
    row = cur.execute(
        "SELECT id, status, started_at, set_dir, manifest_sha256 FROM seedgen.loads "
        "WHERE status = 'running' ORDER BY id DESC LIMIT 1"
    ).fetchone()
    return LoadRow(*row) if row else None


def start(
    cur: psycopg.Cursor, manifest: Manifest, checksum: str, set_dir: str, snap: Snapshot
) -> int:
    """Record the load and every object it is about to drop (commit before dropping)."""
    ensure(cur)
    tables = {
        t.name: {"schema": t.schema_name, "rows": t.rows, "key_ranges": t.key_ranges}
        for t in manifest.tables
    }
    row = cur.execute(
        "INSERT INTO seedgen.loads (dataset, seed, manifest_sha256, set_dir, seedgen_version, "
        "tables) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (manifest.dataset, manifest.seed, checksum, set_dir, seedgen.__version__, Jsonb(tables)),
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


def saved(cur: psycopg.Cursor, load_id: int, *, pending_only: bool = False) -> Snapshot:
    """The objects a load dropped (only those not yet restored, with ``pending_only``)."""
    snap = Snapshot()
    for kind, schema, table, name, definition, detail in cur.execute(
        "SELECT kind, schema_name, table_name, name, definition, detail "
        "FROM seedgen.saved_objects WHERE load_id = %s AND (NOT %s OR NOT restored) ORDER BY ord",
        (load_id, pending_only),
    ):
        if kind == "index":
            snap.indexes.append(Index(schema, table, name, definition))
        elif kind == "constraint":
            snap.constraints.append(Constraint(schema, table, name, detail, definition))
        else:
            snap.triggers.append(Trigger(schema, table, name, detail))
    return snap


def mark_restored(cur: psycopg.Cursor, load_id: int, schema: str, table: str, name: str) -> None:
    cur.execute(
        "UPDATE seedgen.saved_objects SET restored = true WHERE load_id = %s AND schema_name = %s "
        "AND table_name = %s AND name = %s",
        (load_id, schema, table, name),
    )


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


def forget_shards(cur: psycopg.Cursor, load_id: int) -> None:
    cur.execute("DELETE FROM seedgen.loaded_shards WHERE load_id = %s", (load_id,))
