"""``seedgen reset``: remove exactly the rows a shard set loaded, in FK-safe order.

For an initial load the set's own shards say which rows those are: each table's primary-key
columns are read from its shards, COPYed into a temporary table and deleted by a join, children
before parents, all in one transaction. For an ``--append`` load the keys it recorded as inserted
are used instead (its remapped references and left-out rows make the shards' keys inexact). Rows
that another live load kept as its own (a shared admin user, a shared tag: ``seedgen.conflicts``)
are never deleted. Scopes follow the FK graph inside the set: ``facts`` are the tables no other
table of the set references (the leaves: jobs, links, sales…), ``dimensions`` the rest.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Literal

import psycopg
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from psycopg import sql

from loader import append, faults, ledger
from loader.append import TablePlan
from loader.session import connect, lock
from loader.target import parse_target
from loader.verify import verify_set
from seedgen.errors import SafetyError, SchemaMismatchError
from seedgen.manifest import Manifest, TableSpec, set_identities
from seedgen.progress import Reporter, Write, as_reporter

Scope = Literal["all", "facts", "dimensions"]


def scoped_tables(manifest: Manifest, scope: Scope) -> list[TableSpec]:
    referenced = {parent for t in manifest.tables for parent in t.depends_on} | {
        ref.table for t in manifest.tables for ref in t.references
    }
    if scope == "facts":
        return [t for t in manifest.tables if t.name not in referenced]
    if scope == "dimensions":
        return [t for t in manifest.tables if t.name in referenced]
    return list(manifest.tables)


def reset_set(
    set_dir: Path,
    url: str,
    *,
    confirm: bool = False,
    dry_run: bool = False,
    scope: Scope = "all",
    allow_any_name: bool = False,
    allow_remote: bool = False,
    echo: Reporter | Write | None = None,
) -> dict[str, int]:
    """Delete (or, with ``dry_run``, count) the set's rows; return rows per table."""
    echo = as_reporter(echo)
    if not confirm and not dry_run:
        raise SafetyError(
            "reset deletes rows; refusing without --confirm",
            hint="add --confirm, or --dry-run to see how many rows it would delete",
        )
    target = parse_target(url, allow_any_name=allow_any_name, allow_remote=allow_remote)
    manifest = verify_set(set_dir)
    with connect(target) as ctl:
        lock(ctl)
        entry = ledger.latest(ctl.cursor(), set_identities(manifest))
        if entry is None:
            raise SchemaMismatchError(
                f"the ledger of {target.dbname} has no load of this set",
                hint="reset only removes rows seedgen loaded from this set",
            )
        if entry.status == "running":
            raise SchemaMismatchError(
                f"load {entry.id} of this set is unfinished: the objects it dropped are not back",
                hint="finish it with `seedgen load SET --resume` or restore them with "
                "`seedgen repair`, then reset",
            )
        counts: dict[str, int] = {}
        with ctl.transaction(force_rollback=dry_run):
            cur = ctl.cursor()
            ledger.ensure(cur)
            plans = (
                {p["table"]: TablePlan.from_json(p) for p in ledger.plan(cur, entry.id)}
                if entry.mode == "append"
                else {}
            )
            for table in reversed(scoped_tables(manifest, scope)):
                keys = _stage_keys(cur, set_dir, manifest, table, entry.id, plans.get(table.name))
                kept = _keep_shared(cur, entry.id, table, keys)
                counts[table.name] = append.delete_by_keys(
                    cur, table.qualified, keys.name, keys.columns, dry_run=dry_run
                )
                verb = "would delete" if dry_run else "deleted"
                note = f" (kept {kept:,} shared with another load)" if kept else ""
                echo.summary(f"  {table.name:<20} {verb} {counts[table.name]:>12,} rows{note}")
                faults.point("reset-table")
            if not dry_run and scope == "all":
                if plans:
                    append.drop_work_tables(cur, entry.id, list(plans.values()), keys=True)
                ledger.finish(cur, entry.id, "reset")
    echo.summary(
        f"{'dry run: would delete' if dry_run else 'reset: deleted'} "
        f"{sum(counts.values()):,} rows of set {manifest.dataset} (seed {manifest.seed}), "
        f"scope {scope}"
    )
    return counts


class _Keys:
    """A temporary table of one table's primary keys, and those columns."""

    def __init__(self, name: sql.Identifier, columns: list[str]) -> None:
        self.name, self.columns = name, columns


def _stage_keys(
    cur: psycopg.Cursor,
    set_dir: Path,
    manifest: Manifest,
    table: TableSpec,
    load_id: int,
    plan: TablePlan | None,
) -> _Keys:
    """The keys of the rows the load put in ``table``: for an append, the keys it recorded as
    inserted (remapped FKs and rows left out make the shards' keys wrong); else the shards'."""
    columns = plan.primary_key if plan else append.live_primary_key(cur, table)
    if not columns:
        raise SchemaMismatchError(f"table {table.name} has no primary key; cannot tell its rows")
    stage = sql.Identifier(f"seedgen_reset_{table.name}")
    pk = [sql.Identifier(c) for c in columns]
    cur.execute(
        sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
            stage, sql.SQL(", ").join(pk), sql.Identifier(*table.qualified)
        )
    )
    if plan is not None:
        if append.has_keys(cur, load_id, plan):
            recorded = append.keys_table(load_id, plan)
            cur.execute(sql.SQL("INSERT INTO {} SELECT * FROM {}").format(stage, recorded))
        return _Keys(stage, columns)
    copy_stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        stage, sql.SQL(", ").join(pk)
    )
    for shard in table.shards:
        path = set_dir / shard.file
        if manifest.format == "parquet":
            keys = pq.read_table(path, columns=columns)
        else:
            keys = pacsv.read_csv(
                path, convert_options=pacsv.ConvertOptions(include_columns=columns)
            )
        buf = io.BytesIO()
        pacsv.write_csv(keys, buf, pacsv.WriteOptions(include_header=False))
        with cur.copy(copy_stmt) as copy:
            copy.write(buf.getvalue())
    return _Keys(stage, columns)


def _keep_shared(cur: psycopg.Cursor, load_id: int, table: TableSpec, keys: _Keys) -> int:
    """Take out of ``keys`` the rows another load kept as its own (a shared admin, a tag), and
    hand them to that load: its reset removes them once nobody else uses them."""
    users = ledger.used_by_others(cur, load_id, table.name)
    if not users:
        return 0
    identity = append.key_identity("s", keys.columns)
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in keys.columns)
    for other, used in users.items():
        plan = next(
            (TablePlan.from_json(p) for p in ledger.plan(cur, other) if p["table"] == table.name),
            None,
        )
        if plan is None or not append.has_keys(cur, other, plan):
            continue
        theirs = append.keys_table(other, plan)
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
