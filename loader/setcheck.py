"""Check a shard set before touching a database, and the live tables against it.

Set checks (no database): manifest version, every shard present with its size and sha256, row
counts, and each shard's columns equal to the manifest's. Live checks (read-only): each table
exists with the manifest's columns (name, type, nullability) and holds no rows yet.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
from psycopg import sql

from seedgen.errors import ManifestError, SchemaMismatchError
from seedgen.manifest import Manifest, ShardSpec, TableSpec, read_manifest, sha256_file

Echo = Callable[[str], None]


def verify_set(set_dir: Path) -> Manifest:
    manifest = read_manifest(set_dir)
    for table in manifest.tables:
        counted = sum(s.rows for s in table.shards)
        if counted != table.rows:
            raise ManifestError(
                f"table {table.name}: shards hold {counted:,} rows, manifest says {table.rows:,}"
            )
        for number, shard in enumerate(table.shards):
            _verify_shard(set_dir, manifest, table, number, shard)
    return manifest


def _verify_shard(
    set_dir: Path, manifest: Manifest, table: TableSpec, number: int, shard: ShardSpec
) -> None:
    where = f"table {table.name}, shard {number:05d} ({shard.file})"
    path = set_dir / shard.file
    if not path.is_file():
        raise ManifestError(f"{where}: file missing", hint="regenerate or re-copy the set")
    size = path.stat().st_size
    if size != shard.bytes:
        state = "truncated" if size < shard.bytes else "larger than recorded"
        raise ManifestError(
            f"{where}: {state} ({size:,} bytes, manifest says {shard.bytes:,})",
            hint="regenerate or re-copy the set",
        )
    if sha256_file(path) != shard.sha256:
        raise ManifestError(
            f"{where}: sha256 mismatch, the file is corrupted", hint="regenerate or re-copy the set"
        )
    names = [c.name for c in table.columns]
    if manifest.format == "parquet":
        meta = pq.ParquetFile(path)
        schema = meta.schema_arrow
        got = [(f.name, str(f.type)) for f in schema]
        want = [(c.name, c.arrow_type) for c in table.columns]
        if got != want:
            raise ManifestError(f"{where}: columns {got} differ from the manifest's {want}")
        if meta.metadata.num_rows != shard.rows:
            raise ManifestError(
                f"{where}: {meta.metadata.num_rows:,} rows, manifest says {shard.rows:,}"
            )
    else:
        with path.open("rb") as fh:
            header = fh.readline().decode().strip()
        got_names = [h.strip('"') for h in header.split(",")]
        if got_names != names:
            raise ManifestError(
                f"{where}: CSV header {got_names} differs from the manifest's {names}"
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
        live = live_columns(cur, table.schema_name, table.name)
        where = f"table {table.schema_name}.{table.name}"
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
        query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(
            sql.Identifier(table.schema_name, table.name)
        )
        row = cur.execute(query).fetchone()
        if row and row[0]:
            busy.append(table.name)
    return busy
