"""Stream one shard into ``COPY ... FROM STDIN``, batch by batch.

Parquet shards are read one row group at a time (a row group is one load batch). When every
column of the table has a binary form whose bytes PostgreSQL's own receive function checks as
strictly as its text input (``loader.binary``), the row group goes as ``FORMAT binary``, encoded
from Arrow by pgpq's Rust encoder; otherwise (or if a uuid column holds a value that is not in
canonical form) pyarrow's C++ CSV writer makes ``FORMAT csv`` bytes. CSV shards are sent as they
are, in 1 MiB blocks, with ``HEADER MATCH`` so PostgreSQL itself checks the header against the
column list. No per-row Python runs on these paths.

A shard is read into memory once (memory bounded by the shard size, which the manifest states
and the file must still have) and its sha256 checked on those very bytes before any is sent: the
set was verified before the load, but a file swapped or edited since (a shard set may come from
someone else) must not load unverified.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from loader import binary
from seedgen.errors import LoadError
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


def parquet_batches(source: pa.NativeFile) -> Iterator[tuple[int, bytes]]:
    """(rows, CSV bytes) per row group."""
    reader = pq.ParquetFile(source)
    for group in range(reader.num_row_groups):
        batch = reader.read_row_group(group)
        buf = io.BytesIO()
        pacsv.write_csv(batch, buf, _NO_HEADER)
        yield batch.num_rows, buf.getvalue()


def read_verified(path: Path, sha256: str, size: int) -> bytes:
    """The shard's bytes, refused unless it is still a regular file of ``size`` bytes that hash
    to ``sha256`` (read at most ``size + 1`` bytes: a file swapped for a huge one, a device or a
    FIFO since the set was verified neither fills memory nor hangs)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise _changed(path, f"cannot open it: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _changed(path, "not a regular file any more")
        if info.st_size != size:
            raise _changed(path, f"{info.st_size:,} bytes, the manifest says {size:,}")
        data = fh.read(size + 1)
    if len(data) != size or hashlib.sha256(data).hexdigest() != sha256:
        raise _changed(path, "sha256 mismatch")
    return data


def _changed(path: Path, why: str) -> LoadError:
    return LoadError(
        f"{path.name}: the file changed since the set was verified ({why})",
        hint="regenerate or re-copy the set, then run the same command again",
    )


def copy_shard(
    cur: psycopg.Cursor,
    table: TableSpec,
    path: Path,
    fmt: str,
    rows: int,
    on_batch: Callable[[int, int], None],
    *,
    sha256: str,
    size: int,
    into: tuple[str, str] | None = None,
) -> None:
    """COPY one shard of ``size`` bytes that hash to ``sha256``; ``on_batch(rows, bytes)``
    after each batch (CSV: once, at the end)."""
    data = read_verified(path, sha256, size)
    # The queued writer sends from a background thread, so pyarrow (which releases the GIL)
    # converts the next row group while the previous one is on the wire.
    writer = QueuedLibpqWriter(cur)
    if fmt == "parquet" and binary.suits(table, pa.BufferReader(data)):
        with cur.copy(copy_statement(table, False, into, "binary"), writer=writer) as copy:
            for batch_rows, chunk in binary.batches(table, pa.BufferReader(data), path.name):
                copy.write(chunk)
                on_batch(batch_rows, len(chunk))
        return
    with cur.copy(copy_statement(table, fmt == "csv", into), writer=writer) as copy:
        if fmt == "parquet":
            for batch_rows, chunk in parquet_batches(pa.BufferReader(data)):
                copy.write(chunk)
                on_batch(batch_rows, len(chunk))
        else:
            view = memoryview(data)
            for start in range(0, len(view), CSV_BLOCK):
                copy.write(view[start : start + CSV_BLOCK])
    if fmt != "parquet":
        on_batch(rows, len(data))
