"""The genonaut prompt vocabulary and tag pool, read from ``vocabulary.txt`` (spec 002's lists)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_FILE = Path(__file__).with_name("vocabulary.txt")


@dataclass(frozen=True)
class Vocabulary:
    general: tuple[str, ...]
    domains: dict[str, tuple[str, ...]]
    tag_pool: tuple[str, ...]  # as the spec lists it (103 entries, two repeated)

    @property
    def tag_names(self) -> tuple[str, ...]:
        """Distinct tag names in first-seen order (101)."""
        return tuple(dict.fromkeys(self.tag_pool))


def _split(line: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p.strip() for p in line.split(",") if p.strip()))


def _load() -> Vocabulary:
    sections: dict[str, str] = {}
    current = None
    for line in _FILE.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        header = re.fullmatch(r"\[(.+)\]", line.strip())
        if header:
            current = header.group(1)
        elif current:
            sections[current] = line
    domains = {
        key.removeprefix("domain: "): _split(body)
        for key, body in sections.items()
        if key.startswith("domain: ")
    }
    tag_pool = tuple(p.strip() for p in sections["tags"].split(",") if p.strip())
    return Vocabulary(_split(sections["general"]), domains, tag_pool)


VOCABULARY = _load()


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower().replace("’", ""))


_BY_NORM = {_norm(name): name for name in VOCABULARY.domains}


def canonical_domain(name: str) -> str:
    """Accept 'fantasy art', 'fantasy-art', 'Fantasy_Art'; raise naming the valid choices."""
    found = _BY_NORM.get(_norm(name))
    if found is None:
        raise ValueError(f"unknown prompt type {name!r}; valid: {', '.join(VOCABULARY.domains)}")
    return found
