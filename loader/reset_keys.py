"""The keys of the rows a reset removes, staged in temporary tables.

For an initial load they are the primary keys in the set's shards; for an ``--append`` load the
keys it recorded as inserted (remapped references and rows left out make the shards' keys
inexact). Rows another live load kept as its own (a shared admin user, a tag) are taken out of
them and handed to that load, whose reset removes them once nobody else uses them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from psycopg import sql

from loader import append_plan, append_tables, ledger, ledger_reset, sqlparts
from loader.append_plan import TablePlan
from loader.copy import read_verified
from seedgen.errors import SchemaMismatchError
from seedgen.manifest import Manifest, TableSpec


@dataclass(frozen=True)
class Keys:
    """A temporary table of one table's primary keys to delete, and those columns."""

    name: sql.Identifier
    columns: list[str]


def stage_keys(
    cur: psycopg.Cursor,
    set_dir: Path,
    manifest: Manifest,
    table: TableSpec,
    load_id: int,
    plan: TablePlan | None,
) -> Keys:
    """The keys of the rows the load put in ``table``: for an append, the keys it recorded as
    inserted (remapped FKs and rows left out make the shards' keys wrong); else the shards'."""
    columns = plan.primary_key if plan else append_plan.live_primary_key(cur, table)
    if not columns:
        raise SchemaMismatchError(
            f"table {table.name} has no primary key; cannot tell its rows",
            hint="restore its primary key (`seedgen verify SET --database-url URL` lists what "
            "is missing), then run the same command again",
        )
    stage = sql.Identifier(f"seedgen_reset_{table.name}")
    pk = [sql.Identifier(c) for c in columns]
    cur.execute(
        sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
            stage, sql.SQL(", ").join(pk), sql.Identifier(*table.qualified)
        )
    )
    if plan is not None:
        if append_tables.has_keys(cur, load_id, plan):
            recorded = append_tables.keys_table(load_id, plan)
            cur.execute(sql.SQL("INSERT INTO {} SELECT * FROM {}").format(stage, recorded))
        cur.execute(sql.SQL("ANALYZE {}").format(stage))
        return Keys(stage, columns)
    copy_stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        stage, sql.SQL(", ").join(pk)
    )
    for shard in table.shards:
        data = pa.BufferReader(read_verified(set_dir / shard.file, shard.sha256, shard.bytes))
        if manifest.format == "parquet":
            keys = pq.read_table(data, columns=columns)
        else:
            keys = pacsv.read_csv(
                data, convert_options=pacsv.ConvertOptions(include_columns=columns)
            )
        buf = io.BytesIO()
        pacsv.write_csv(keys, buf, pacsv.WriteOptions(include_header=False))
        with cur.copy(copy_stmt) as copy:
            copy.write(buf.getvalue())
    cur.execute(sql.SQL("ANALYZE {}").format(stage))  # the joins that follow need its size
    return Keys(stage, columns)


def keep_shared(cur: psycopg.Cursor, load_id: int, table: TableSpec, keys: Keys) -> int:
    """Take out of ``keys`` the rows another load kept as its own (a shared admin, a tag), and
    hand them to that load: its reset removes them once nobody else uses them."""
    users = ledger_reset.used_by_others(cur, load_id, table.name)
    if not users:
        return 0
    identity = sqlparts.key_identity("s", keys.columns)
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in keys.columns)
    for other, used in users.items():
        plan = next(
            (TablePlan.from_json(p) for p in ledger.plan(cur, other) if p["table"] == table.name),
            None,
        )
        if plan is None or not append_tables.has_keys(cur, other, plan):
            continue
        theirs = append_tables.keys_table(other, plan)
        cur.execute(
            sql.SQL(
                "INSERT INTO {t} ({c}) SELECT {c} FROM {k} s WHERE {i} = ANY(%s::text[]) "
                "AND NOT EXISTS (SELECT 1 FROM {t} x WHERE {same})"
            ).format(
                t=theirs,
                c=cols,
                k=keys.name,
                i=identity,
                same=sql.SQL(" AND ").join(
                    sql.SQL("x.{c} = s.{c}").format(c=sql.Identifier(c)) for c in keys.columns
                ),
            ),
            (used,),
        )
    every = sorted({key for used in users.values() for key in used})
    cur.execute(
        sql.SQL("DELETE FROM {} s WHERE {} = ANY(%s::text[])").format(keys.name, identity),
        (every,),
    )
    return cur.rowcount
