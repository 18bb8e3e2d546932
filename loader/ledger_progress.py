"""A load's progress in the ledger (``loader.ledger`` describes its tables): the objects it
dropped and rebuilt, the shards it copied, the tables it merged.

Each row is written in the transaction of the work it records, so ``--resume``, the undo and
``seedgen repair`` know exactly what is done, whatever crashed when.
"""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from loader.catalog import Constraint, Index, Snapshot, Trigger


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


def forget_shards(cur: psycopg.Cursor, load_id: int, table: str | None = None) -> None:
    """Forget a load's committed shards (of one table, if ``table``)."""
    cur.execute(
        "DELETE FROM seedgen.loaded_shards WHERE load_id = %s "
        "AND (%s::text IS NULL OR table_name = %s)",
        (load_id, table, table),
    )


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
