"""Reading JSON and names that someone else may have written: bounded before they are trusted.

A shard set is copied between machines and committed to repositories, so its manifest is input
from a stranger. Everything here turns a hostile value into one ``ManifestError`` line (never a
``RecursionError``, a memory blow-up or a traceback):

- the file's size is checked (``stat``) before it is read, and no more than the bound is read;
- nesting depth is counted on the raw text before ``json.loads`` builds anything;
- duplicate keys (the later one would silently win), ``NaN``/``Infinity`` and integers too long
  to convert are refused while parsing;
- identifiers are what PostgreSQL accepts without surprises: 1–63 bytes, no quote, no NUL or
  other control character.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from seedgen.errors import ManifestError

MAX_JSON_BYTES = 64 << 20  # a default-size manifest is ~30 KB; 64 MiB leaves room for huge sets
MAX_JSON_DEPTH = 64  # ours nest 6 deep
MAX_IDENTIFIER_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1: longer names are silently truncated

_TOKEN = re.compile(r'[\[\]{}"\\]')
_BAD_CHAR = re.compile(r'["\x00-\x1f\x7f]')

_REFUSED = "the set is damaged or not from `seedgen generate`; regenerate or re-copy it"


def read_json(path: Path, *, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Parse ``path`` as JSON within the size and depth bounds, or raise one ``ManifestError``."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ManifestError(
                f"{path}: {size:,} bytes, more than the {max_bytes:,} a manifest may have",
                hint=_REFUSED,
            )
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise ManifestError(f"{path}: unreadable ({exc.strerror})", hint=_REFUSED) from None
    if len(data) > max_bytes:  # grew between stat and read
        raise ManifestError(f"{path}: more than {max_bytes:,} bytes", hint=_REFUSED)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path}: not UTF-8 ({exc.reason})", hint=_REFUSED) from None
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise ManifestError(
            f"{path}: JSON nested {depth} deep, more than {MAX_JSON_DEPTH}", hint=_REFUSED
        )
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}: not valid JSON ({exc})", hint=_REFUSED) from None
    except (ValueError, RecursionError) as exc:  # ours below; int() of > 4300 digits
        raise ManifestError(f"{path}: {exc}", hint=_REFUSED) from None


def json_depth(text: str, limit: int = MAX_JSON_DEPTH) -> int:
    """The deepest bracket nesting of JSON ``text`` (brackets in strings not counted), or the
    first depth past ``limit``: a nesting bomb stops the scan early. Linear in the text."""
    depth = deepest = 0
    in_string = False
    escaped_at = -1
    for match in _TOKEN.finditer(text):
        pos, char = match.start(), match.group()
        if pos == escaped_at:
            continue
        if in_string:
            if char == "\\":
                escaped_at = pos + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                break
        elif char in "]}":
            depth -= 1
    return deepest


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears twice in one object")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def check_identifier(name: str) -> str:
    """``name`` if it is a safe PostgreSQL identifier, else ``ValueError`` (pydantic's way)."""
    if not name:
        raise ValueError("empty identifier")
    if _BAD_CHAR.search(name):
        raise ValueError(f"identifier {name[:40]!r} holds a quote or a control character")
    size = len(name.encode("utf-8"))
    if size > MAX_IDENTIFIER_BYTES:
        raise ValueError(
            f"identifier {name[:40]!r}… is {size} bytes, PostgreSQL keeps {MAX_IDENTIFIER_BYTES}"
        )
    return name


def check_relpath(path: str) -> str:
    """``path`` if it is a plain relative POSIX path (no ``..``, no root, no NUL), else error."""
    if not path or "\x00" in path or "\\" in path:
        raise ValueError("a shard path must be non-empty, without NUL or backslash")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise ValueError(f"shard path {path[:80]!r} is absolute, it must be inside the set")
    if ".." in path.split("/"):
        raise ValueError(f"shard path {path[:80]!r} climbs out of the set with '..'")
    return path
