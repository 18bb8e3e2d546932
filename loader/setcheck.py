"""Check a shard set before touching a database, and the live tables against it.

Set checks (no database): manifest version, bounds and types (``seedgen.manifest``), every shard
a regular file inside the set directory (symlinks resolved; ``..``, absolute paths and links out
of the set refused), its size on disk equal to the manifest's before it is hashed, its sha256,
row counts, and each shard's columns equal to the manifest's. Live checks (read-only): each table
exists with the manifest's columns (name, type, nullability) and holds no rows yet.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
from psycopg import sql

from seedgen.errors import ManifestError, SchemaMismatchError
from seedgen.manifest import Manifest, ShardSpec, TableSpec, read_manifest, sha256_file

Echo = Callable[[str], None]
_RECOPY = "regenerate or re-copy the set"


def verify_set(set_dir: Path) -> Manifest:
    manifest = read_manifest(set_dir)  # row sums, bounds and path syntax are checked there
    root = Path(set_dir).resolve()
    paths = {
        (table.name, number): shard_path(root, table, number, shard)
        for table in manifest.tables
        for number, shard in enumerate(table.shards)
    }  # every path is confined before any shard is opened
    for table in manifest.tables:
        for number, shard in enumerate(table.shards):
            _verify_shard(paths[table.name, number], manifest, table, number, shard)
    return manifest


def shard_path(root: Path, table: TableSpec, number: int, shard: ShardSpec) -> Path:
    """The shard's file, resolved, if it is a regular file inside the set directory ``root``."""
    where = f"table {table.name}, shard {number:05d} ({shard.file})"
    refused = "a set must hold its shards itself; regenerate or re-copy it"
    try:
        path = (root / shard.file).resolve(strict=True)
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ManifestError(f"{where}: file missing", hint=_RECOPY) from None
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise ManifestError(f"{where}: cannot be resolved ({exc})", hint=refused) from None
    if not path.is_relative_to(root):
        raise ManifestError(f"{where}: resolves outside the set directory, refused", hint=refused)
    if not stat.S_ISREG(mode):
        raise ManifestError(f"{where}: not a regular file, refused", hint=refused)
    return path


def _verify_shard(
    path: Path, manifest: Manifest, table: TableSpec, number: int, shard: ShardSpec
) -> None:
    where = f"table {table.name}, shard {number:05d} ({shard.file})"
    size = path.stat().st_size
    if size != shard.bytes:
        state = "truncated" if size < shard.bytes else "larger than recorded"
        raise ManifestError(
            f"{where}: {state} ({size:,} bytes, manifest says {shard.bytes:,})",
            hint=_RECOPY,
        )
    if sha256_file(path) != shard.sha256:
        raise ManifestError(f"{where}: sha256 mismatch, the file is corrupted", hint=_RECOPY)
    try:
        if manifest.format == "parquet":
            _parquet_columns(path, table, shard, where)
        else:
            _csv_header(path, table, where)
    except (pa.ArrowException, UnicodeDecodeError) as exc:
        raise ManifestError(
            f"{where}: not a readable {manifest.format} file ({str(exc).splitlines()[0]})",
            hint=_RECOPY,
        ) from None


def _parquet_columns(path: Path, table: TableSpec, shard: ShardSpec, where: str) -> None:
    meta = pq.ParquetFile(path)
    got = [(f.name, str(f.type)) for f in meta.schema_arrow]
    want = [(c.name, c.arrow_type) for c in table.columns]
    if got != want:
        raise ManifestError(
            f"{where}: columns {got} differ from the manifest's {want}", hint=_RECOPY
        )
    rows = meta.metadata.num_rows
    if rows != shard.rows:
        raise ManifestError(f"{where}: {rows:,} rows, manifest says {shard.rows:,}", hint=_RECOPY)


def _csv_header(path: Path, table: TableSpec, where: str) -> None:
    names = [c.name for c in table.columns]
    with path.open("rb") as fh:
        header = fh.readline(1 << 20).decode().strip()
    got_names = [h.strip('"') for h in header.split(",")]
    if got_names != names:
        raise ManifestError(
            f"{where}: CSV header {got_names} differs from the manifest's {names}", hint=_RECOPY
        )


def live_columns(cur: psycopg.Cursor, schema: str, table: str) -> dict[str, tuple[str, bool, bool]]:
    """name -> (format_type, nullable, has default/identity/generated) of a live table."""
    cur.execute(
        """
        SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
               a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> ''
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """,
        (schema, table),
    )
    return {name: (typ, nullable, has_default) for name, typ, nullable, has_default in cur}


def verify_live(cur: psycopg.Cursor, manifest: Manifest) -> None:
    for table in manifest.tables:
        live = live_columns(cur, *table.qualified)
        where = f"table {'.'.join(table.qualified)}"
        if not live:
            raise SchemaMismatchError(
                f"{where} does not exist in the target database",
                hint="run the app's migrations first, or pass --create-schema",
            )
        for col in table.columns:
            if col.name not in live:
                raise SchemaMismatchError(
                    f"{where}: column {col.name} is in the set but not in the database"
                )
            typ, nullable, _ = live[col.name]
            if typ != col.pg_type:
                raise SchemaMismatchError(
                    f"{where}, column {col.name}: database type {typ}, set type {col.pg_type}"
                )
            if nullable != col.nullable:
                raise SchemaMismatchError(
                    f"{where}, column {col.name}: nullable is {nullable} in the database, "
                    f"{col.nullable} in the set"
                )
        in_set = {c.name for c in table.columns}
        for name, (_, nullable, has_default) in live.items():
            if name not in in_set and not (nullable or has_default):
                raise SchemaMismatchError(
                    f"{where}, column {name}: NOT NULL without default in the database but "
                    f"absent from the set"
                )


def non_empty_tables(cur: psycopg.Cursor, manifest: Manifest) -> list[str]:
    busy = []
    for table in manifest.tables:
        query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(*table.qualified))
        row = cur.execute(query).fetchone()
        if row and row[0]:
            busy.append(table.name)
    return busy


_OWN_ROWS = sql.SQL(
    "SELECT count(*) FROM {} WHERE tableoid <> ALL(ARRAY("
    " SELECT leaf.relid FROM pg_partition_tree(%s::regclass) d"
    " JOIN unnest(%s::text[], %s::text[]) o(s, n)"
    "   ON d.level > 0 AND d.relid = to_regclass(quote_ident(o.s) || '.' || quote_ident(o.n))"
    " CROSS JOIN LATERAL pg_partition_tree(d.relid) leaf))"
)


def set_rows(cur: psycopg.Cursor, manifest: Manifest, table: TableSpec) -> int:
    """The rows ``table`` holds as a table of the set: a partitioned parent's rows without
    those of its partitions that are set tables of their own (a set may fill the parent and
    let PostgreSQL route its rows, or fill each partition and give the parent none)."""
    others = [t.qualified for t in manifest.tables if t.name != table.name]
    name = sql.Identifier(*table.qualified)
    row = cur.execute(
        _OWN_ROWS.format(name),
        (name.as_string(cur), [s for s, _ in others], [n for _, n in others]),
    ).fetchone()
    return int(row[0]) if row else 0
