"""Write one shard file (Parquet with zstd, or CSV with a header) and describe it."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from seedgen.manifest import ShardFormat, ShardSpec, sha256_file


def write_shard(
    table: pa.Table,
    set_dir: Path,
    relpath: str,
    fmt: ShardFormat,
    batch_rows: int,
    start: int,
    stop: int,
) -> ShardSpec:
    path = set_dir / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        # One row group per load batch: the loader streams and reports progress per row group.
        pq.write_table(table, path, compression="zstd", row_group_size=batch_rows)
    else:
        pacsv.write_csv(table, path)
    return ShardSpec(
        file=relpath,
        start=start,
        stop=stop,
        rows=table.num_rows,
        bytes=path.stat().st_size,
        sha256=sha256_file(path),
    )
