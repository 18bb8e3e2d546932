"""``seedgen verify``: check a loaded database against a shard set, read-only.

Checks, per table of the set: row counts against the manifest (for an ``--append`` load: every
row it inserted is there); no orphans for any foreign key declared on those tables, nor for the
references the set declares without an FK (``content_tags.content_id``); every sequence the key
columns use is at or past the largest key; and, when the ledger has a record of this set, every
index, constraint and enabled trigger that was rebuilt is present, valid and the same as its
saved definition, by the comparison ``load`` makes before it marks a load complete
(``loader.objects``: a faithful rebuild PostgreSQL prints differently is the same object); and
what the set's post-load steps write (a stats table, a materialized view) is what they compute
from the rows now (``loader.post_load.stale``: the steps run in a savepoint rolled back after).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from loader import append_tables, catalog, ledger, ledger_progress, ledger_reset, objects, post_load
from loader.append_plan import TablePlan
from loader.session import connect, pg_message
from loader.setcheck import set_rows, verify_set
from loader.target import parse_target
from seedgen.errors import LoadError
from seedgen.manifest import Manifest, set_identities
from seedgen.progress import Reporter, Write, as_reporter


@dataclass
class VerifyReport:
    problems: list[str] = field(default_factory=list)
    checks: int = 0

    def check(self, ok: bool, problem: str) -> None:
        self.checks += 1
        if not ok:
            self.problems.append(problem)


def verify_database(
    set_dir: Path,
    url: str,
    *,
    allow_any_name: bool = False,
    allow_remote: bool = False,
    echo: Reporter | Write | None = None,
) -> VerifyReport:
    echo = as_reporter(echo)
    target = parse_target(url, allow_any_name=allow_any_name, allow_remote=allow_remote)
    manifest = verify_set(set_dir)  # the shards too: sizes, sha256, rows, columns
    report = VerifyReport()
    try:
        with connect(target) as conn:
            cur = conn.cursor()
            tables = [t.qualified for t in manifest.tables]
            _counts(cur, manifest, report)
            _orphans(cur, tables, report)
            _declared_orphans(cur, manifest, report)
            snap = catalog.capture(cur, tables)
            _sequences(cur, snap, report)
            _objects(cur, manifest, snap, report, echo)
            if manifest.post_load:
                stale = post_load.stale(conn, post_load.check(manifest))
                report.check(not stale, "; ".join(stale))
    except psycopg.Error as exc:
        raise LoadError(f"cannot verify {target}: {pg_message(exc)}") from None
    for problem in report.problems:
        echo.summary(f"FAIL {problem}")
    echo.summary(
        f"verify: {report.checks - len(report.problems)}/{report.checks} checks passed",
        kind="verify",
        checks=report.checks,
        problems=report.problems,
    )
    return report


def _counts(cur: psycopg.Cursor, manifest: Manifest, report: VerifyReport) -> None:
    """An appended set: every row it owns (inserted, or handed over by a reset of a set it
    shared them with) is there. Otherwise: the table holds the set's rows plus those that later
    ``--append`` loads inserted."""
    entry = ledger.latest(cur, set_identities(manifest))
    if entry is not None and entry.mode == "append":
        merged = ledger_progress.merged(cur, entry.id)
        plans = {p["table"]: TablePlan.from_json(p) for p in ledger.plan(cur, entry.id)}
        for table in manifest.tables:
            plan = plans[table.name]
            # inserted, + shared handed over
            owned = append_tables.recorded(cur, entry.id, plan) or 0
            found = append_tables.delete_inserted(cur, entry.id, table, plan, dry_run=True)
            report.check(
                found == owned,
                f"{table.name}: {found} of the {owned} rows load {entry.id} owns are there "
                f"(it inserted {merged.get(table.name, (0, {}))[0]})",
            )
        return
    later = ledger_reset.appended_since(cur, entry.id) if entry is not None else {}
    derived = post_load.written_tables(post_load.check(manifest))
    for table in manifest.tables:
        if table.name in derived:  # its rows are what the set's post-load steps derived
            continue
        got = set_rows(cur, manifest, table)
        extra = later.get(table.name, 0)
        expected = table.rows + extra
        more = f" + {extra} appended later" if extra else ""
        report.check(got == expected, f"{table.name}: {got} rows, the set has {table.rows}{more}")


def _orphans(cur: psycopg.Cursor, tables: list[tuple[str, str]], report: VerifyReport) -> None:
    for fk in catalog.foreign_keys(cur, catalog.table_oids(cur, tables)):
        orphans = _orphan_count(
            cur,
            (fk.schema, fk.table),
            fk.columns,
            (fk.parent_schema, fk.parent_table),
            fk.parent_columns,
        )
        report.check(orphans == 0, f"{fk.table}: {orphans} rows violate foreign key {fk.name}")


def _declared_orphans(cur: psycopg.Cursor, manifest: Manifest, report: VerifyReport) -> None:
    """References the set declares but the schema does not enforce (no FK)."""
    for table in manifest.tables:
        for ref in table.references:
            parent = manifest.table(ref.table)
            orphans = _orphan_count(
                cur, table.qualified, ref.columns, parent.qualified, ref.parent_columns, ref.when
            )
            when = " ".join(f"{k}={v}" for k, v in ref.when.items())
            report.check(
                orphans == 0, f"{table.name}: {orphans} rows ({when}) point at no {parent.name} row"
            )


def _orphan_count(
    cur: psycopg.Cursor,
    child: tuple[str, str],
    columns: list[str],
    parent: tuple[str, str],
    parent_columns: list[str],
    when: dict[str, str] | None = None,
) -> int:
    """Rows of ``child`` (those matching ``when``) whose non-NULL ``columns`` find no parent."""
    join = sql.SQL(" AND ").join(
        sql.SQL("p.{} = c.{}").format(sql.Identifier(r), sql.Identifier(c))
        for c, r in zip(columns, parent_columns, strict=True)
    )
    where = sql.SQL(" AND ").join(
        [
            *(sql.SQL("c.{} IS NOT NULL").format(sql.Identifier(c)) for c in columns),
            *(
                sql.SQL("c.{} = {}").format(sql.Identifier(k), sql.Literal(v))
                for k, v in (when or {}).items()
            ),
        ]
    )
    query = sql.SQL(
        "SELECT count(*) FROM {} c WHERE {} AND NOT EXISTS (SELECT 1 FROM {} p WHERE {})"
    ).format(sql.Identifier(*child), where, sql.Identifier(*parent), join)
    row = cur.execute(query).fetchone()
    return int(row[0]) if row else 0


def _sequences(cur: psycopg.Cursor, snap: catalog.Snapshot, report: VerifyReport) -> None:
    for use in snap.sequences:
        top = catalog.column_max(cur, [use])
        if top is None:
            continue
        upcoming = catalog.next_value(cur, use.seq_schema, use.seq_name)
        report.check(
            upcoming > top,
            f"sequence {use.seq_schema}.{use.seq_name} would hand out {upcoming}, but "
            f"{use.table}.{use.column} already holds {top}",
        )


def _objects(
    cur: psycopg.Cursor,
    manifest: Manifest,
    snap: catalog.Snapshot,
    report: VerifyReport,
    echo: Reporter,
) -> None:
    entry = ledger.latest(cur, set_identities(manifest))
    if entry is None:
        echo("note: the ledger has no record of this set; index/FK/trigger checks skipped")
        return
    report.check(entry.status == "complete", f"load {entry.id} of this set is {entry.status}")
    saved = ledger_progress.saved(cur, entry.id)
    report.checks += len(saved.indexes) + len(saved.constraints) + len(saved.triggers)
    report.problems += objects.problems(cur, saved)
    oids = catalog.table_oids(cur, [t.qualified for t in manifest.tables])
    row = cur.execute(
        "SELECT count(*) FROM pg_index WHERE indrelid = ANY(%s) AND NOT indisvalid", (oids,)
    ).fetchone()
    invalid = row[0] if row else 0
    report.check(invalid == 0, f"{invalid} invalid indexes on the set's tables")
    row = cur.execute(
        "SELECT count(*) FROM pg_constraint WHERE conrelid = ANY(%s) AND NOT convalidated",
        (oids,),
    ).fetchone()
    unvalidated = row[0] if row else 0
    report.check(unvalidated == 0, f"{unvalidated} constraints not validated")
