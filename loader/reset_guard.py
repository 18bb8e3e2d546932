"""The refusals of ``seedgen reset``, each naming a command that works.

Cheap ones first, from the ledger alone (milliseconds, before any key is read): the set is not
loaded here (then: what is, and how to remove that), its load is unfinished, or a scope would
orphan the set's own rows (``--scope dimensions`` while facts still hold them). Then, with the
keys to delete staged but before the first delete: any row of any table (the set's, another
load's, the application's) that references a row about to go — by an FK (whatever its ``ON
DELETE``: a cascade or a ``SET NULL`` would change rows silently) or by a reference the set
declares. A database error later is a bug of these guards or a concurrent writer, and is
reported by the caller as a rolled-back failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from loader import ledger
from loader.reset_keys import Keys
from loader.sqlparts import eq, key_text
from seedgen.errors import ManifestError, SchemaMismatchError
from seedgen.manifest import Manifest, TableSpec, read_manifest, set_identities

# ------------------------------------------------------------------ from the ledger alone


def not_loaded(cur: psycopg.Cursor, set_dir: Path, dbname: str) -> SchemaMismatchError:
    """The refusal for a set the ledger has no live load of: what is loaded, how to proceed."""
    loads = ledger.live(cur)
    if not loads:
        return SchemaMismatchError(
            f"this set is not loaded in {dbname}: its ledger records no load whose rows remain",
            hint=f"nothing to reset; `seedgen load {set_dir} --database-url URL` loads it",
        )
    shown = "; ".join(
        f"load {row.id}: {dataset} seed {seed} from {row.set_dir} ({row.status}, "
        f"{row.started_at:%Y-%m-%d %H:%M})"
        for row, dataset, seed in loads[:3]
    )
    more = f" and {len(loads) - 3} more" if len(loads) > 3 else ""
    newest = loads[0][0]
    return SchemaMismatchError(
        f"this set is not loaded in {dbname} (no load of its identity); loaded there: "
        f"{shown}{more}",
        hint=_way_out(newest),
    )


def _way_out(row: ledger.LoadRow) -> str:
    there = Path(row.set_dir)
    try:
        same = row.manifest_sha256 in set_identities(read_manifest(there))
    except ManifestError:
        same = False
    if same:
        return f"`seedgen reset {there} --database-url URL --confirm` removes load {row.id}"
    return (
        f"{there} no longer holds the set load {row.id} was made from (regenerated with other "
        f"settings, or removed); generate that set again into {there} (same dataset, seed and "
        f"config), then `seedgen reset {there} --database-url URL --confirm` removes it"
    )


def unfinished(entry: ledger.LoadRow, set_dir: Path) -> SchemaMismatchError:
    return SchemaMismatchError(
        f"load {entry.id} of this set is unfinished: the objects it dropped are not back",
        hint=f"finish it with `seedgen load {set_dir} --database-url URL --resume`, or restore "
        "them with `seedgen repair --database-url URL`, then reset",
    )


def refuse_out_of_order(
    manifest: Manifest, in_scope: list[TableSpec], done: dict[str, int], set_dir: Path
) -> None:
    """A table of the set left out of the reset whose rows of the set reference a table being
    reset (facts still there under ``--scope dimensions``): refuse before reading any key."""
    names = {t.name for t in in_scope}
    for table in manifest.tables:
        if table.name in names or table.name in done or table.rows == 0:
            continue
        parents = sorted(({*table.depends_on} | {r.table for r in table.references}) & names)
        if parents:
            raise SchemaMismatchError(
                f"{table.name} still holds this set's rows, which reference "
                f"{', '.join(parents)}: removing those first would orphan them",
                hint=f"run `seedgen reset {set_dir} --database-url URL --scope facts --confirm` "
                "first (or reset everything at once without --scope)",
            )


# ------------------------------------------------------------------ with the keys staged


@dataclass(frozen=True)
class _Referrer:
    schema: str
    table: str
    columns: list[str]  # of the referencing table
    parent_columns: list[str]  # of the referenced table
    when: dict[str, str]  # a declared, polymorphic reference applies only where these hold

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.table)


_FKS_TO = """
SELECT DISTINCT n.nspname, r.relname,
    ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(num, ord)
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num ORDER BY k.ord),
    ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(num, ord)
          JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.num ORDER BY k.ord)
FROM pg_constraint c
JOIN pg_class r ON r.oid = c.conrelid
JOIN pg_namespace n ON n.oid = r.relnamespace
WHERE c.contype = 'f' AND c.confrelid = %s::regclass
ORDER BY 1, 2
"""


_ANCESTORS = """
SELECT n.nspname, c.relname FROM pg_partition_ancestors(%s::regclass) a
JOIN pg_class c ON c.oid = a.relid JOIN pg_namespace n ON n.oid = c.relnamespace
"""


def _in_set_parent(cur: psycopg.Cursor, own: set[tuple[str, str]], schema: str, name: str) -> bool:
    """A partition of a set table: its rows are the parent's, whose FK is listed too."""
    regclass = sql.Identifier(schema, name).as_string(cur)
    return any(tuple(row) in own for row in cur.execute(_ANCESTORS, (regclass,)).fetchall())


def referrers(cur: psycopg.Cursor, manifest: Manifest, table: TableSpec) -> list[_Referrer]:
    """Every FK pointing at ``table`` (from any table, partitions included) and every reference
    the set declares to it."""
    regclass = sql.Identifier(*table.qualified).as_string(cur)
    own = {t.qualified for t in manifest.tables}
    found = [
        _Referrer(schema, name, list(cols), list(pcols), {})
        for schema, name, cols, pcols in cur.execute(_FKS_TO, (regclass,)).fetchall()
        if (schema, name) in own or not _in_set_parent(cur, own, schema, name)
    ]
    for child in manifest.tables:
        for ref in child.references:
            if ref.table == table.name:
                found.append(_Referrer(*child.qualified, ref.columns, ref.parent_columns, ref.when))
    return found


def refuse_references(
    cur: psycopg.Cursor,
    manifest: Manifest,
    keys: dict[str, Keys],
    owned: set[str],
    set_dir: Path,
) -> None:
    """Refuse if any row outside what this reset deletes references a row it deletes.

    ``keys``: the tables being reset; ``owned``: those of them all of whose rows go (their rows
    need no check)."""
    for name, table_keys in keys.items():
        table = manifest.table(name)
        for ref in referrers(cur, manifest, table):
            own = _run_table(manifest, keys, ref)
            if own in owned:
                continue
            example = _first_referencing(cur, table, table_keys, ref, keys.get(own or ""))
            if example is not None:
                raise _blocked(table, ref, example, set_dir)


def _run_table(manifest: Manifest, keys: dict[str, Keys], ref: _Referrer) -> str | None:
    for table in manifest.tables:
        if table.qualified == (ref.schema, ref.table) and table.name in keys:
            return table.name
    return None


def _first_referencing(
    cur: psycopg.Cursor, table: TableSpec, keys: Keys, ref: _Referrer, child_keys: Keys | None
) -> str | None:
    """The referencing columns of one row of ``ref`` that points at a key in ``keys`` and is not
    deleted itself (not in ``child_keys``), as text; None if there is none."""
    conds: list[sql.Composable] = [
        sql.SQL("r.{} = {}").format(sql.Identifier(c), sql.Literal(v)) for c, v in ref.when.items()
    ]
    if child_keys is not None:
        conds.append(
            sql.SQL("NOT EXISTS (SELECT 1 FROM {} d WHERE {})").format(
                child_keys.name, eq("d", child_keys.columns, "r", child_keys.columns)
            )
        )
    query = sql.SQL(
        "SELECT {shown} FROM {child} r JOIN {parent} p ON {link} JOIN {keys} k ON {pk} "
        "WHERE {conds} LIMIT 1"
    ).format(
        shown=key_text("r", ref.columns),
        child=ref.ident,
        parent=sql.Identifier(*table.qualified),
        link=eq("r", ref.columns, "p", ref.parent_columns),
        keys=keys.name,
        pk=eq("p", keys.columns, "k", keys.columns),
        conds=sql.SQL(" AND ").join(conds) if conds else sql.SQL("true"),
    )
    row = cur.execute(query).fetchone()
    return None if row is None else str(row[0])


def _blocked(table: TableSpec, ref: _Referrer, example: str, set_dir: Path) -> SchemaMismatchError:
    """Rows of the set's own tables that reference what goes are refused earlier (from the
    ledger); rows found here are not this set's: another load's or the application's."""
    what = f"{ref.schema}.{ref.table} ({', '.join(ref.columns)} = {example})"
    return SchemaMismatchError(
        f"rows this reset would delete from {table.name} are still referenced by {what}, "
        "a row this set did not load; nothing was deleted",
        hint=f"delete or re-point the rows of {ref.schema}.{ref.table} that reference them, "
        f"then run the same command again (`seedgen reset {set_dir} --database-url URL "
        "--dry-run` lists what it would delete)",
    )
