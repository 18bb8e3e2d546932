"""Stream one shard into ``COPY ... FROM STDIN``, batch by batch.

Parquet shards are read one row group at a time (a row group is one load batch). When every
column of the table has a binary form whose bytes PostgreSQL's own receive function checks as
strictly as its text input (``loader.binary``), the row group goes as ``FORMAT binary``, encoded
from Arrow by pgpq's Rust encoder; otherwise (or if a uuid column holds a value that is not in
canonical form) pyarrow's C++ CSV writer makes ``FORMAT csv`` bytes. CSV shards are streamed as
they are, in 1 MiB blocks, with ``HEADER MATCH`` so PostgreSQL itself checks the header against
the column list. No per-row Python runs on these paths.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from loader import binary
from seedgen.manifest import TableSpec

CSV_BLOCK = 1 << 20
_NO_HEADER = pacsv.WriteOptions(include_header=False)


def copy_statement(
    table: TableSpec, header: bool, into: tuple[str, str] | None = None, fmt: str = "csv"
) -> sql.Composed:
    """COPY into the table itself, or into ``into`` (an append's staging table)."""
    if fmt == "binary":
        options = sql.SQL("FORMAT binary")
    else:
        options = sql.SQL("FORMAT csv, HEADER MATCH" if header else "FORMAT csv")
    return sql.SQL("COPY {} ({}) FROM STDIN ({})").format(
        sql.Identifier(*(into or table.qualified)),
        sql.SQL(", ").join(sql.Identifier(c.name) for c in table.columns),
        options,
    )


def parquet_batches(path: Path) -> Iterator[tuple[int, bytes]]:
    """(rows, CSV bytes) per row group."""
    reader = pq.ParquetFile(path)
    for group in range(reader.num_row_groups):
        batch = reader.read_row_group(group)
        buf = io.BytesIO()
        pacsv.write_csv(batch, buf, _NO_HEADER)
        yield batch.num_rows, buf.getvalue()


def copy_shard(
    cur: psycopg.Cursor,
    table: TableSpec,
    path: Path,
    fmt: str,
    rows: int,
    on_batch: Callable[[int, int], None],
    into: tuple[str, str] | None = None,
) -> None:
    """COPY one shard; ``on_batch(rows, bytes)`` after each batch (CSV: once, at the end)."""
    # The queued writer sends from a background thread, so pyarrow (which releases the GIL)
    # converts the next row group while the previous one is on the wire.
    writer = QueuedLibpqWriter(cur)
    if fmt == "parquet" and binary.suits(table, path):
        with cur.copy(copy_statement(table, False, into, "binary"), writer=writer) as copy:
            for batch_rows, data in binary.batches(table, path):
                copy.write(data)
                on_batch(batch_rows, len(data))
        return
    with cur.copy(copy_statement(table, fmt == "csv", into), writer=writer) as copy:
        if fmt == "parquet":
            for batch_rows, data in parquet_batches(path):
                copy.write(data)
                on_batch(batch_rows, len(data))
        else:
            with path.open("rb") as fh:
                while block := fh.read(CSV_BLOCK):
                    copy.write(block)
    if fmt != "parquet":
        on_batch(rows, path.stat().st_size)
