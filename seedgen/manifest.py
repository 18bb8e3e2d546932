"""The shard-set contract: the only module both ``generator`` and ``loader`` import.

A shard set is a directory::

    <set>/manifest.json             written last; its presence marks the set complete
    <set>/<table>/<table>-00000.parquet   (or .csv) shards, in row order

The generator writes into ``<set>.partial/`` and renames the directory when the manifest is in
place, so a crash never leaves a directory that looks complete. The loader refuses manifests whose
``manifest_version`` it does not know, naming both versions.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from seedgen.errors import ManifestError
from seedgen.untrusted import check_identifier, check_relpath, read_json

# 2 added shared_keys, on_conflict and references (for --append). Version 1 sets still read
# (the new fields default to empty); a seedgen that knows only 1 refuses 2 by its version.
# 3 added post_load (statements the loader runs after the rows are in, ``loader.post_load``);
# versions 1 and 2 read with no steps, and a seedgen that knows only 2 refuses 3 by its version
# instead of loading the set without its derived tables.
MANIFEST_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
MAX_POST_LOAD = 1000  # statements
MAX_STATEMENT_CHARS = 100_000
MANIFEST_NAME = "manifest.json"
PARTIAL_SUFFIX = ".partial"

ShardFormat = Literal["parquet", "csv"]

# Bounds a set from someone else must respect before any shard is read (see read_manifest).
MAX_ROWS = 10**12  # per shard and per table
MAX_SHARD_BYTES = 1 << 40  # 1 TiB
INT64 = (-(1 << 63), (1 << 63) - 1)

Identifier = Annotated[str, AfterValidator(check_identifier)]
RelPath = Annotated[str, AfterValidator(check_relpath)]
Count = Annotated[int, Field(ge=0, le=MAX_ROWS)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Strict):
    """One column as PostgreSQL's ``format_type`` spells it, plus the Arrow type in the shards."""

    name: Identifier
    pg_type: str
    nullable: bool
    arrow_type: str


class ShardSpec(_Strict):
    """One shard file: the driving row range ``[start, stop)`` it covers and what it holds.

    For most tables ``rows == stop - start``; for a table exploded from a parent (one row per
    link), ``start``/``stop`` index the parent's rows and ``rows`` counts the file's rows.
    """

    file: RelPath
    start: Count
    stop: Count
    rows: Count
    bytes: Annotated[int, Field(ge=0, le=MAX_SHARD_BYTES)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]

    @model_validator(mode="after")
    def _range(self) -> ShardSpec:
        if self.start > self.stop:
            raise ValueError(f"shard {self.file}: start {self.start} after stop {self.stop}")
        return self


class ReferenceSpec(_Strict):
    """A reference the database does not enforce (no FK), declared by the dataset.

    ``columns`` of this table hold ``parent_columns`` of set table ``table`` in the rows where
    every ``when`` column has the given value (a polymorphic link: ``content_tags.content_id``
    points into one of two tables, by ``content_source``). ``--append`` rewrites and drops
    through these like through FKs; ``seedgen verify`` checks them for orphans.
    """

    columns: list[Identifier]
    table: Identifier
    parent_columns: list[Identifier]
    when: dict[Identifier, str] = {}


class TableSpec(_Strict):
    """One table of the set.

    ``key_ranges`` are the integer key ranges the set reserves (``--append`` refuses a set whose
    range overlaps existing rows before copying anything). ``shared_keys`` are primary-key values
    the set shares on purpose with others (same entity: the existing row is kept), and
    ``on_conflict`` says what ``--append`` does with a row whose other unique columns match an
    existing row: ``drop`` it and its dependents, or ``remap`` references to the existing row.
    """

    name: Identifier
    schema_name: Identifier = "public"
    columns: list[ColumnSpec]
    primary_key: list[Identifier]
    depends_on: list[Identifier]
    rows: Count
    batch_rows: Annotated[int, Field(ge=1, le=MAX_ROWS)]
    key_ranges: dict[Identifier, Annotated[list[int], Field(min_length=2, max_length=2)]] = {}
    shared_keys: list[str] = []
    on_conflict: Literal["drop", "remap"] = "drop"
    references: list[ReferenceSpec] = []
    shards: list[ShardSpec]

    @model_validator(mode="after")
    def _consistent(self) -> TableSpec:
        counted = sum(s.rows for s in self.shards)
        if counted != self.rows:
            raise ValueError(f"shards hold {counted:,} rows, the table says {self.rows:,}")
        for low, high in self.key_ranges.values():
            if not INT64[0] <= low <= high <= INT64[1]:
                raise ValueError(f"key range [{low}, {high}] is not within bigint")
        return self

    @property
    def qualified(self) -> tuple[str, str]:
        """(schema, relation): a table outside ``public`` is named ``schema.table`` in the set
        (so that two schemas may each have an ``invoices``), the relation is what follows."""
        prefix = f"{self.schema_name}."
        if self.schema_name != "public" and self.name.startswith(prefix):
            return (self.schema_name, self.name[len(prefix) :])
        return (self.schema_name, self.name)


def set_name(schema_name: str | None, relation: str) -> str:
    """A table's name in a set (and a spec): bare in ``public``, ``schema.table`` elsewhere."""
    return relation if schema_name in (None, "public") else f"{schema_name}.{relation}"


def qualified_name(name: str) -> tuple[str, str]:
    """(schema, relation) of a set's table name: ``billing.invoices`` or bare (``public``)."""
    schema_name, dot, relation = name.partition(".")
    return (schema_name, relation) if dot else ("public", name)


class TableDDL(_Strict):
    """Statements that create one table (with its indexes) on a fresh database, in order."""

    table: Identifier
    statements: list[str]


PostLoadStatement = Annotated[str, Field(min_length=1, max_length=MAX_STATEMENT_CHARS)]


class Manifest(_Strict):
    """A shard set's contract.

    ``post_load``: SQL statements the dataset declares to run after the rows are loaded and the
    indexes rebuilt (refresh a materialized view, fill a stats table from the rows), in order.
    Text anyone could have written: ``loader.post_load`` parses and allow-lists each before the
    load writes anything.
    """

    manifest_version: int
    dataset: str
    seed: int
    format: ShardFormat
    created_at: str
    config: dict[str, Any]
    versions: dict[str, str]
    extensions: list[Identifier]
    ddl: list[TableDDL]
    tables: list[TableSpec]
    post_load: Annotated[list[PostLoadStatement], Field(max_length=MAX_POST_LOAD)] = []

    @model_validator(mode="after")
    def _unique(self) -> Manifest:
        names = [t.qualified for t in self.tables]
        files = [s.file for t in self.tables for s in t.shards]
        if len(set(names)) != len(names):
            raise ValueError("a table is listed twice")
        if len(set(files)) != len(files):
            raise ValueError("a shard file is listed twice")
        if self.format == "csv":  # a CSV row takes at least its newline, after the header line
            for shard in (s for t in self.tables for s in t.shards):
                if shard.rows > shard.bytes:
                    raise ValueError(f"{shard.file}: {shard.rows:,} rows in {shard.bytes:,} bytes")
        return self

    def table(self, name: str) -> TableSpec:
        for spec in self.tables:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def total_rows(self) -> int:
        return sum(t.rows for t in self.tables)


def shard_relpath(table: str, index: int, fmt: ShardFormat) -> str:
    """Where shard ``index`` of ``table`` lives inside a set (POSIX, relative)."""
    return f"{table}/{table}-{index:05d}.{fmt}"


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_checksum(manifest: Manifest) -> str:
    """A stable identity of a set: sha256 of its canonical manifest JSON."""
    text = json.dumps(manifest.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def set_identity(manifest: Manifest) -> str:
    """What makes two sets the same set: a sha256 of their content.

    Dataset, seed, format, config, extensions, DDL and every table's spec with its shards' row
    ranges, row counts and sha256. Not ``created_at``, ``versions`` (of tools), shard file names
    or sizes, nor ``manifest_version``: a set regenerated identically (same shard checksums) has
    the same identity, so ``load`` says it is loaded and ``load --force``/``reset`` accept it.
    ``post_load`` counts when it has steps (a changed step is another set); an empty list is
    left out, so a set without steps keeps the identity it had before the field existed.
    """
    exclude = {"created_at", "versions", "manifest_version"}
    if not manifest.post_load:
        exclude.add("post_load")
    data = manifest.model_dump(mode="json", exclude=exclude)
    for table in data["tables"]:
        for shard in table["shards"]:
            del shard["file"], shard["bytes"]
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(b"seedgen set identity 1\0" + text.encode()).hexdigest()


def set_identities(manifest: Manifest) -> tuple[str, str]:
    """Every identity a ledger may hold for this set: ``set_identity``, and the manifest
    checksum that seedgen recorded before it (``seedgen.loads.manifest_sha256``)."""
    return (set_identity(manifest), manifest_checksum(manifest))


def write_manifest(set_dir: Path, manifest: Manifest) -> Path:
    """Write ``manifest.json`` atomically (temp file + ``os.replace``)."""
    path = set_dir / MANIFEST_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest.model_dump(mode="json"), indent=2) + "\n")
    os.replace(tmp, path)
    return path


def read_manifest(set_dir: Path) -> Manifest:
    """Read and validate a set's manifest; refuse unknown versions before anything else.

    The manifest may come from someone else (``seedgen.untrusted``): its size and nesting are
    bounded before it is parsed, types are strict (no ``"12"`` for 12, no ``true`` for 1),
    identifiers and shard paths are checked, and sizes and row counts are bounded and consistent
    with each other before any shard is opened.
    """
    path = Path(set_dir) / MANIFEST_NAME
    if not path.is_file():
        partial = Path(str(set_dir) + PARTIAL_SUFFIX)
        hint = (
            f"{partial} exists: that generation did not finish; run `seedgen generate` again"
            if partial.exists()
            else "point at a directory written by `seedgen generate`"
        )
        raise ManifestError(f"{set_dir}: no {MANIFEST_NAME}, not a complete shard set", hint=hint)
    if not path.resolve().is_relative_to(Path(set_dir).resolve()):
        raise ManifestError(
            f"{path} is a link to a file outside the set ({path.resolve()})",
            hint="copy the set with its real manifest.json, not a link to another one",
        )
    raw = read_json(path)
    version = raw.get("manifest_version") if isinstance(raw, dict) else None
    if type(version) is not int:  # bool is an int to isinstance: `true` is not version 1
        raise ManifestError(
            f"{path}: no integer manifest_version",
            hint="point at a directory written by `seedgen generate`",
        )
    if version not in READABLE_VERSIONS:
        newer = version > MANIFEST_VERSION
        raise ManifestError(
            f"{path}: manifest_version {version} is {'newer' if newer else 'older'} than the "
            f"versions this seedgen reads ({', '.join(map(str, READABLE_VERSIONS))})",
            hint="upgrade seedgen" if newer else "regenerate the set with this seedgen",
        )
    try:
        return Manifest.model_validate(raw, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        table = _table_name(raw, first["loc"])
        raise ManifestError(
            f"{path}: invalid manifest at {where}{table}: {first['msg']}",
            hint="the set is damaged or not from `seedgen generate`; regenerate or re-copy it",
        ) from None


def _table_name(raw: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    """`` (table users)`` when the error is inside ``tables[i]`` and that table has a name."""
    if len(loc) < 2 or loc[0] != "tables" or not isinstance(loc[1], int):
        return ""
    tables = raw.get("tables")
    entry = tables[loc[1]] if isinstance(tables, list) and loc[1] < len(tables) else None
    name = entry.get("name") if isinstance(entry, dict) else None
    return f" (table {name[:63]!r})" if isinstance(name, str) else ""
