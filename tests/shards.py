"""Read a shard set back as one Arrow table per table, independently of the loader.

The column types come from the manifest's ``arrow_type`` strings (``string``, ``int32``,
``timestamp[us]``, ``timestamp[us, tz=UTC]``, ...), not from the generator's type mapping, so a
wrong mapping there shows up as a mismatch instead of being read back the same wrong way.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from seedgen.manifest import Manifest, TableSpec, read_manifest

_TIMESTAMP = re.compile(r"timestamp\[(\w+)(?:, tz=(.+))?\]")


def arrow_type(alias: str) -> pa.DataType:
    match = _TIMESTAMP.fullmatch(alias)
    if match:
        return pa.timestamp(match.group(1), tz=match.group(2))
    return pa.type_for_alias(alias)


def table_schema(spec: TableSpec) -> pa.Schema:
    return pa.schema([(c.name, arrow_type(c.arrow_type)) for c in spec.columns])


def read_shard(path: Path, fmt: str, schema: pa.Schema) -> pa.Table:
    if fmt == "parquet":
        return pq.read_table(path)
    # COPY's CSV rules: an unquoted empty field is NULL, a quoted one an empty string.
    opts = pacsv.ConvertOptions(
        column_types=schema, strings_can_be_null=True, quoted_strings_can_be_null=False
    )
    return pacsv.read_csv(path, convert_options=opts)


def read_table(set_dir: Path, manifest: Manifest, spec: TableSpec) -> pa.Table:
    """All shards of one table, concatenated in manifest (row) order."""
    schema = table_schema(spec)
    parts = [read_shard(set_dir / s.file, manifest.format, schema) for s in spec.shards]
    return pa.concat_tables(parts).cast(schema)


def read_tables(set_dir: Path) -> dict[str, pa.Table]:
    manifest = read_manifest(set_dir)
    return {spec.name: read_table(set_dir, manifest, spec) for spec in manifest.tables}
