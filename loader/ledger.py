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

This module creates the tables and reads and writes ``seedgen.loads``. A load's progress (objects
dropped and restored, shards, merges) is recorded by ``loader.ledger_progress``; scoped resets and
what loads share, by ``loader.ledger_reset``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

import seedgen
from loader.catalog import Snapshot, relation_exists
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


def finish(cur: psycopg.Cursor, load_id: int, status: str) -> None:
    cur.execute(
        "UPDATE seedgen.loads SET status = %s, finished_at = now() WHERE id = %s",
        (status, load_id),
    )


def plan(cur: psycopg.Cursor, load_id: int) -> list[dict[str, Any]]:
    row = cur.execute("SELECT plan FROM seedgen.loads WHERE id = %s", (load_id,)).fetchone()
    return list(row[0] or []) if row else []


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
