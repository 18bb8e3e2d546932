"""Parquet row groups as ``COPY ... (FORMAT binary)`` bytes, encoded from Arrow by pgpq.

Binary COPY skips PostgreSQL's text parsing and our CSV writing. It is used only for a table
whose every column is a (PostgreSQL type, Arrow type) pair in ``_KINDS``: pairs where the binary
value is the same value the CSV text would give, and where PostgreSQL's receive function checks
it as strictly as its text input does (text, varchar(n) and jsonb are checked for encoding,
length and JSON syntax; timestamps for range). A shard is untrusted input: uuid columns travel
as strings and are turned into their 16 bytes here only if every value is in canonical
8-4-4-4-12 hex form (either case, as ``uuid_in`` reads it); a shard holding any other spelling
goes as CSV, where PostgreSQL parses (and accepts or rejects) it itself. Every other pair (arrays,
numeric, ...) goes as CSV too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pgpq import ArrowToPostgresBinaryEncoder
from pgpq import encoders as enc
from pgpq import schema as pgs

from seedgen.errors import LoadError
from seedgen.manifest import TableSpec

# (format_type, Arrow type as the manifest spells it) -> how the column is encoded
_KINDS = {
    ("integer", "int32"): "native",
    ("bigint", "int64"): "native",
    ("smallint", "int16"): "native",
    ("boolean", "bool"): "native",
    ("double precision", "double"): "native",
    ("real", "float"): "native",
    ("date", "date32[day]"): "native",
    ("timestamp without time zone", "timestamp[us]"): "native",
    ("timestamp with time zone", "timestamp[us, tz=UTC]"): "native",
    ("text", "string"): "native",
    ("character varying", "string"): "native",
    ("json", "string"): "native",
    ("jsonb", "string"): "jsonb",
    ("uuid", "string"): "uuid",
}
_UUID_DASHES = [8, 13, 18, 23]
_UUID_HEX = [i for i in range(36) if i not in _UUID_DASHES]
_NIBBLE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _NIBBLE[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _NIBBLE[_c] = 10 + _i


def kinds(table: TableSpec) -> list[str] | None:
    """Each column's encoding, or None if some column has no binary form here."""
    out = []
    for col in table.columns:
        pg_type = col.pg_type
        if pg_type.startswith("character varying("):  # the length is checked by varcharrecv
            pg_type = "character varying"
        kind = _KINDS.get((pg_type, col.arrow_type))
        if kind is None:
            return None
        out.append(kind)
    return out


def suits(table: TableSpec, source: Path | pa.NativeFile) -> bool:
    """Whether this Parquet shard can go as binary COPY (reads only its uuid columns)."""
    columns = kinds(table)
    if columns is None or pq.ParquetFile(source).num_row_groups == 0:
        return False
    uuids = _uuid_names(table, columns)
    if not uuids:
        return True
    read = pq.ParquetFile(source, read_dictionary=uuids).read(columns=uuids)
    return all(_uuid_column(read.column(name)) is not None for name in uuids)


def _uuid_names(table: TableSpec, columns: list[str]) -> list[str]:
    return [c.name for c, k in zip(table.columns, columns, strict=True) if k == "uuid"]


def _uuid_column(values: pa.ChunkedArray) -> pa.Array | None:
    """A (dictionary-read) uuid string column as fixed_size_binary(16): each distinct string is
    converted once (a foreign key column repeats few values many times)."""
    arr = values.combine_chunks()
    if not pa.types.is_dictionary(arr.type):
        return uuid_bytes(arr)
    dictionary = uuid_bytes(arr.dictionary)
    if dictionary is None:
        return None
    return dictionary.take(arr.indices)


def uuid_bytes(arr: pa.Array) -> pa.Array | None:
    """Canonical uuid strings as fixed_size_binary(16); None if any value is not canonical."""
    n = len(arr)
    if n == 0:
        return pa.array([], pa.binary(16))
    filled = pc.fill_null(arr, "00000000-0000-0000-0000-000000000000").cast(pa.string())
    lengths = pc.min_max(pc.binary_length(filled))
    if (lengths["min"].as_py(), lengths["max"].as_py()) != (36, 36):
        return None
    offsets = np.frombuffer(filled.buffers()[1], dtype=np.int32)
    start = int(offsets[filled.offset])
    raw = np.frombuffer(filled.buffers()[2], dtype=np.uint8)[start : start + 36 * n]
    raw = raw.reshape(n, 36)
    if (raw[:, _UUID_DASHES] != ord("-")).any():
        return None
    nibbles = _NIBBLE[raw[:, _UUID_HEX]]
    if (nibbles == 255).any():
        return None
    packed = (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]
    out = pa.Array.from_buffers(pa.binary(16), n, [None, pa.py_buffer(packed.tobytes())])
    if arr.null_count:
        out = pc.if_else(pc.is_null(arr), pa.scalar(None, pa.binary(16)), out)
    return out


def _encoders(schema: pa.Schema, columns: list[str]) -> dict[str, Any]:
    builders: dict[str, Any] = {}
    for field, kind in zip(schema, columns, strict=True):
        if kind == "jsonb":
            builders[field.name] = enc.StringEncoderBuilder.new_with_output(field, pgs.Jsonb())
        else:
            builders[field.name] = ArrowToPostgresBinaryEncoder.infer_encoder(field)
    return builders


TRAILER = b"\xff\xff"  # binary COPY's end: a tuple of -1 fields


def batches(
    table: TableSpec, source: Path | pa.NativeFile, name: str
) -> Iterator[tuple[int, bytes]]:
    """(rows, binary COPY bytes) per row group: the header comes with the first, the trailer
    with the last. pgpq buffers every tuple until ``finish``, so each row group gets its own
    encoder, finished (its tuples flushed) with its trailer cut off: bytes stream group by group
    and the progress counts them. Call only for a shard ``suits`` accepted."""
    columns = kinds(table)
    assert columns is not None
    reader = pq.ParquetFile(source, read_dictionary=_uuid_names(table, columns))
    groups = reader.num_row_groups
    assert groups > 0  # ``suits`` refuses a shard without row groups
    for group in range(groups):
        data = reader.read_row_group(group)
        for i, kind in enumerate(columns):
            if kind == "uuid":
                converted = _uuid_column(data.column(i))
                if converted is None:  # ``suits`` said every value converts: a bug if not
                    raise LoadError(f"{name}: a uuid column changed while it was loaded")
                data = data.set_column(i, data.schema.field(i).with_type(pa.binary(16)), converted)
        builders = _encoders(data.schema, columns)
        encoder = ArrowToPostgresBinaryEncoder.new_with_encoders(data.schema, builders)
        head = bytes(encoder.write_header())
        body = b"".join(bytes(encoder.write_batch(batch)) for batch in data.to_batches())
        tail = bytes(encoder.finish())
        if not tail.endswith(TRAILER):
            raise LoadError(f"{name}: the binary encoder ended without its trailer")
        if group < groups - 1:
            tail = tail[: -len(TRAILER)]
        yield data.num_rows, (head if group == 0 else b"") + body + tail
