"""``seedgen verify``: check a loaded database against a shard set, read-only.

Checks, per table of the set: row counts against the manifest; no orphans for any foreign key
declared on those tables; every sequence the key columns use is at or past the largest key; and,
when the ledger has a record of this set, every index, constraint and enabled trigger that was
rebuilt is present with the same definition, valid and validated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from loader import catalog, ledger
from loader.session import connect, pg_message
from loader.target import parse_target
from seedgen.errors import LoadError
from seedgen.manifest import Manifest, manifest_checksum, read_manifest
from seedgen.progress import Reporter, Write, as_reporter

_FK_COLUMNS = """
SELECT k.conname, n.nspname, t.relname, rn.nspname, r.relname,
       array(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY c(n, o)
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = c.n ORDER BY c.o),
       array(SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY c(n, o)
             JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = c.n ORDER BY c.o)
FROM pg_constraint k
JOIN pg_class t ON t.oid = k.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
WHERE k.contype = 'f' AND k.conparentid = 0 AND k.conrelid = ANY(%(oids)s)
ORDER BY t.relname, k.conname
"""


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
    manifest = read_manifest(set_dir)
    report = VerifyReport()
    try:
        with connect(target) as conn:
            cur = conn.cursor()
            tables = [t.qualified for t in manifest.tables]
            _counts(cur, manifest, report)
            _orphans(cur, tables, report)
            snap = catalog.capture(cur, tables)
            _sequences(cur, snap, report)
            _objects(cur, manifest, snap, report, echo)
    except psycopg.Error as exc:
        raise LoadError(f"cannot verify {target}: {pg_message(exc)}") from None
    for problem in report.problems:
        echo.summary(f"FAIL {problem}")
    echo.summary(f"verify: {report.checks - len(report.problems)}/{report.checks} checks passed")
    return report


def _counts(cur: psycopg.Cursor, manifest: Manifest, report: VerifyReport) -> None:
    for table in manifest.tables:
        row = cur.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*table.qualified))
        ).fetchone()
        got = row[0] if row else None
        report.check(got == table.rows, f"{table.name}: {got} rows, the set has {table.rows}")


def _orphans(cur: psycopg.Cursor, tables: list[tuple[str, str]], report: VerifyReport) -> None:
    oids = catalog.table_oids(cur, tables)
    for name, schema, table, rschema, rtable, cols, rcols in cur.execute(
        _FK_COLUMNS, {"oids": oids}
    ).fetchall():
        join = sql.SQL(" AND ").join(
            sql.SQL("p.{} = c.{}").format(sql.Identifier(r), sql.Identifier(c))
            for c, r in zip(cols, rcols, strict=True)
        )
        not_null = sql.SQL(" AND ").join(
            sql.SQL("c.{} IS NOT NULL").format(sql.Identifier(c)) for c in cols
        )
        query = sql.SQL(
            "SELECT count(*) FROM {} c WHERE {} AND NOT EXISTS (SELECT 1 FROM {} p WHERE {})"
        ).format(sql.Identifier(schema, table), not_null, sql.Identifier(rschema, rtable), join)
        orphans = cur.execute(query).fetchone()[0]
        report.check(orphans == 0, f"{table}: {orphans} rows violate foreign key {name}")


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
    entry = ledger.latest(cur, manifest_checksum(manifest))
    if entry is None:
        echo("note: the ledger has no record of this set; index/FK/trigger checks skipped")
        return
    report.check(entry.status == "complete", f"load {entry.id} of this set is {entry.status}")
    saved = ledger.saved(cur, entry.id)
    live_idx = {i.definition for i in snap.indexes}
    for idx in saved.indexes:
        report.check(idx.definition in live_idx, f"index missing: {idx.definition}")
    live_con = {(c.table, c.name, c.definition) for c in snap.constraints}
    for con in saved.constraints:
        key = (con.table, con.name, con.definition)
        report.check(key in live_con, f"constraint missing: {con.table}.{con.name}")
    live_trg = {(t.table, t.name, t.enabled) for t in snap.triggers}
    for trg in saved.triggers:
        key = (trg.table, trg.name, trg.enabled)
        report.check(key in live_trg, f"trigger missing or disabled: {trg.table}.{trg.name}")
    oids = catalog.table_oids(cur, [t.qualified for t in manifest.tables])
    invalid = cur.execute(
        "SELECT count(*) FROM pg_index WHERE indrelid = ANY(%s) AND NOT indisvalid", (oids,)
    ).fetchone()[0]
    report.check(invalid == 0, f"{invalid} invalid indexes on the set's tables")
    unvalidated = cur.execute(
        "SELECT count(*) FROM pg_constraint WHERE conrelid = ANY(%s) AND NOT convalidated",
        (oids,),
    ).fetchone()[0]
    report.check(unvalidated == 0, f"{unvalidated} constraints not validated")
