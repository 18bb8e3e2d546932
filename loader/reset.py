"""``seedgen reset``: remove exactly the rows a shard set loaded, in FK-safe order.

For an initial load the set's own shards say which rows those are: each table's primary-key
columns are read from its shards and COPYed into a temporary table. For an ``--append`` load the
keys it recorded as inserted are used instead (its remapped references and left-out rows make the
shards' keys inexact). Rows that another live load kept as its own (a shared admin user, a shared
tag: ``seedgen.conflicts``) are never deleted. Scopes follow the FK graph inside the set:
``facts`` are the tables no other table of the set references (the leaves: jobs, links, sales…),
``dimensions`` the rest.

Every refusal comes before the first delete (``loader.reset_guard``): from the ledger alone,
then with the keys staged, any row that would be left referencing a deleted one. Tables that hold
nothing but the set's rows are truncated together, the others deleted from by key, children
before parents (``loader.reset_fast``), all in one transaction with the ledger's update. The
ledger records each table reset (``seedgen.reset_tables``): the load is ``partially_reset``
until the last of its tables is, then ``reset``, so the set can be loaded again. Counts are
printed after the commit; a database error is rolled back and reported, with nothing deleted.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import psycopg
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from psycopg import sql

from loader import append, ledger, reset_fast, reset_guard
from loader.append import TablePlan
from loader.reset_guard import Keys
from loader.session import connect, lock, pg_message
from loader.target import parse_target
from loader.verify import verify_set
from seedgen.errors import LoadError, SafetyError, SchemaMismatchError
from seedgen.manifest import Manifest, TableSpec, manifest_checksum
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


@dataclass
class _Outcome:
    load_id: int
    counts: dict[str, int] = field(default_factory=dict)
    truncated: set[str] = field(default_factory=set)
    kept: dict[str, int] = field(default_factory=dict)
    remaining: list[str] = field(default_factory=list)  # tables still holding the load's rows


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
        try:
            outcome = _Reset(ctl, set_dir, manifest, scope, dry_run).run(target.dbname)
        except psycopg.Error as exc:  # undone by the transaction; bugs keep their traceback
            raise LoadError(
                f"reset failed: {pg_message(exc)}; rolled back, nothing was deleted",
                hint=f"fix the cause and run the same command again (`seedgen reset {set_dir} "
                "--database-url URL --dry-run` shows what it would delete)",
            ) from None
    _report(outcome, manifest, set_dir, scope, dry_run, echo)
    return outcome.counts


class _Reset:
    def __init__(
        self,
        ctl: psycopg.Connection,
        set_dir: Path,
        manifest: Manifest,
        scope: Scope,
        dry_run: bool,
    ) -> None:
        self.ctl, self.set_dir, self.manifest = ctl, set_dir, manifest
        self.scope, self.dry_run = scope, dry_run
        self.tables = scoped_tables(manifest, scope)

    def run(self, dbname: str) -> _Outcome:
        cur = self.ctl.cursor()
        entry = ledger.latest(cur, manifest_checksum(self.manifest))
        if entry is None:
            raise reset_guard.not_loaded(cur, self.set_dir, dbname)
        if entry.status == "running":
            raise reset_guard.unfinished(entry, self.set_dir)
        done = ledger.tables_reset(cur, entry.id)
        reset_guard.refuse_out_of_order(self.manifest, self.tables, done, self.set_dir)
        outcome = _Outcome(entry.id)
        with self.ctl.transaction(force_rollback=self.dry_run):
            cur = self.ctl.cursor()
            ledger.ensure(cur)
            ledger.ensure_reset_tables(cur)
            plans = (
                {p["table"]: TablePlan.from_json(p) for p in ledger.plan(cur, entry.id)}
                if entry.mode == "append"
                else {}
            )
            self._remove(cur, entry.id, plans, outcome)
            if not self.dry_run:
                self._record(cur, entry.id, plans, done, outcome)
        return outcome

    def _remove(
        self, cur: psycopg.Cursor, load_id: int, plans: dict[str, TablePlan], out: _Outcome
    ) -> None:
        """Stage keys, refuse what would dangle, then truncate or delete: nothing before the
        last check."""
        keys: dict[str, Keys] = {}
        for table in self.tables:
            keys[table.name] = _stage_keys(
                cur, self.set_dir, self.manifest, table, load_id, plans.get(table.name)
            )
            out.kept[table.name] = _keep_shared(cur, load_id, table, keys[table.name])
        owning = reset_fast.measure(cur, self.tables, keys, lock=not self.dry_run)
        reset_guard.refuse_references(cur, self.manifest, keys, owning.owned, self.set_dir)
        fast = reset_fast.plan(cur, self.tables, owning.owned, lock=not self.dry_run)
        out.truncated = {t.name for t in fast.tables}
        if fast.tables and not self.dry_run:
            reset_fast.truncate(cur, fast)
        for table in reversed(self.tables):
            if table.name in out.truncated:
                out.counts[table.name] = owning.matched[table.name]
                continue
            key = keys[table.name]
            out.counts[table.name] = append.delete_by_keys(
                cur, table.qualified, key.name, key.columns, dry_run=self.dry_run
            )

    def _record(
        self,
        cur: psycopg.Cursor,
        load_id: int,
        plans: dict[str, TablePlan],
        done: dict[str, int],
        out: _Outcome,
    ) -> None:
        """Which tables are now free of the load's rows; the load is reset once all are."""
        ledger.mark_tables_reset(
            cur,
            load_id,
            {
                name: (rows, "truncate" if name in out.truncated else "delete")
                for name, rows in out.counts.items()
            },
        )
        cleared = set(done) | set(out.counts)
        out.remaining = [t.name for t in self.manifest.tables if t.rows and t.name not in cleared]
        if out.remaining:
            ledger.finish(cur, load_id, "partially_reset")
            return
        if plans:
            append.drop_work_tables(cur, load_id, list(plans.values()), keys=True)
        ledger.finish(cur, load_id, "reset")


def _report(
    out: _Outcome, manifest: Manifest, set_dir: Path, scope: Scope, dry_run: bool, echo: Reporter
) -> None:
    """Counts, printed once the work is committed (or, in a dry run, rolled back)."""
    verb = "would delete" if dry_run else "deleted"
    for table in reversed(scoped_tables(manifest, scope)):
        how = " (truncated: the set owned every row)" if table.name in out.truncated else ""
        kept = out.kept.get(table.name, 0)
        note = f" (kept {kept:,} shared with another load)" if kept else ""
        count = out.counts.get(table.name, 0)
        echo.summary(f"  {table.name:<20} {verb} {count:>12,} rows{how}{note}")
    echo.summary(
        f"{'dry run: would delete' if dry_run else 'reset: deleted'} "
        f"{sum(out.counts.values()):,} rows of set {manifest.dataset} (seed {manifest.seed}), "
        f"scope {scope}"
    )
    if dry_run:
        return
    if out.remaining:
        echo.summary(
            f"load {out.load_id} is partially reset: {', '.join(out.remaining)} still hold its "
            f"rows; `seedgen reset {set_dir} --database-url URL --confirm` removes them"
        )
    else:
        echo.summary(f"load {out.load_id} is reset: the set can be loaded again")


def _stage_keys(
    cur: psycopg.Cursor,
    set_dir: Path,
    manifest: Manifest,
    table: TableSpec,
    load_id: int,
    plan: TablePlan | None,
) -> Keys:
    """The keys of the rows the load put in ``table``: for an append, the keys it recorded as
    inserted (remapped FKs and rows left out make the shards' keys wrong); else the shards'."""
    columns = plan.primary_key if plan else append.live_primary_key(cur, table)
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
        if append.has_keys(cur, load_id, plan):
            recorded = append.keys_table(load_id, plan)
            cur.execute(sql.SQL("INSERT INTO {} SELECT * FROM {}").format(stage, recorded))
        return Keys(stage, columns)
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
    return Keys(stage, columns)


def _keep_shared(cur: psycopg.Cursor, load_id: int, table: TableSpec, keys: Keys) -> int:
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
