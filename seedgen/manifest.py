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
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from seedgen.errors import ManifestError

# 2 added shared_keys, on_conflict and references (for --append). Version 1 sets still read
# (the new fields default to empty); a seedgen that knows only 1 refuses 2 by its version.
MANIFEST_VERSION = 2
READABLE_VERSIONS = (1, 2)
MANIFEST_NAME = "manifest.json"
PARTIAL_SUFFIX = ".partial"

ShardFormat = Literal["parquet", "csv"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Strict):
    """One column as PostgreSQL's ``format_type`` spells it, plus the Arrow type in the shards."""

    name: str
    pg_type: str
    nullable: bool
    arrow_type: str


class ShardSpec(_Strict):
    """One shard file: the driving row range ``[start, stop)`` it covers and what it holds.

    For most tables ``rows == stop - start``; for a table exploded from a parent (one row per
    link), ``start``/``stop`` index the parent's rows and ``rows`` counts the file's rows.
    """

    file: str
    start: int
    stop: int
    rows: int
    bytes: int
    sha256: str


class ReferenceSpec(_Strict):
    """A reference the database does not enforce (no FK), declared by the dataset.

    ``columns`` of this table hold ``parent_columns`` of set table ``table`` in the rows where
    every ``when`` column has the given value (a polymorphic link: ``content_tags.content_id``
    points into one of two tables, by ``content_source``). ``--append`` rewrites and drops
    through these like through FKs; ``seedgen verify`` checks them for orphans.
    """

    columns: list[str]
    table: str
    parent_columns: list[str]
    when: dict[str, str] = {}


class TableSpec(_Strict):
    """One table of the set.

    ``key_ranges`` are the integer key ranges the set reserves (``--append`` refuses a set whose
    range overlaps existing rows before copying anything). ``shared_keys`` are primary-key values
    the set shares on purpose with others (same entity: the existing row is kept), and
    ``on_conflict`` says what ``--append`` does with a row whose other unique columns match an
    existing row: ``drop`` it and its dependents, or ``remap`` references to the existing row.
    """

    name: str
    schema_name: str = "public"
    columns: list[ColumnSpec]
    primary_key: list[str]
    depends_on: list[str]
    rows: int
    batch_rows: int
    key_ranges: dict[str, list[int]] = {}
    shared_keys: list[str] = []
    on_conflict: Literal["drop", "remap"] = "drop"
    references: list[ReferenceSpec] = []
    shards: list[ShardSpec]

    @property
    def qualified(self) -> tuple[str, str]:
        return (self.schema_name, self.name)


class TableDDL(_Strict):
    """Statements that create one table (with its indexes) on a fresh database, in order."""

    table: str
    statements: list[str]


class Manifest(_Strict):
    manifest_version: int
    dataset: str
    seed: int
    format: ShardFormat
    created_at: str
    config: dict[str, Any]
    versions: dict[str, str]
    extensions: list[str]
    ddl: list[TableDDL]
    tables: list[TableSpec]

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
    """
    data = manifest.model_dump(mode="json", exclude={"created_at", "versions", "manifest_version"})
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
    """Read and validate a set's manifest; refuse unknown versions before anything else."""
    path = Path(set_dir) / MANIFEST_NAME
    if not path.is_file():
        partial = Path(str(set_dir) + PARTIAL_SUFFIX)
        hint = (
            f"{partial} exists: that generation did not finish; run `seedgen generate` again"
            if partial.exists()
            else "point at a directory written by `seedgen generate`"
        )
        raise ManifestError(f"{set_dir}: no {MANIFEST_NAME}, not a complete shard set", hint=hint)
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: unreadable manifest ({exc})") from exc
    version = raw.get("manifest_version") if isinstance(raw, dict) else None
    if not isinstance(version, int):
        raise ManifestError(f"{path}: no integer manifest_version")
    if version not in READABLE_VERSIONS:
        newer = version > MANIFEST_VERSION
        raise ManifestError(
            f"{path}: manifest_version {version} is {'newer' if newer else 'older'} than the "
            f"versions this seedgen reads ({', '.join(map(str, READABLE_VERSIONS))})",
            hint="upgrade seedgen" if newer else "regenerate the set with this seedgen",
        )
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ManifestError(f"{path}: invalid manifest at {where}: {first['msg']}") from exc
