"""The app's tag hierarchy: 26 category tags over the spec's 101 pool tags, ids by the app's rule.

Read from ``hierarchy.tsv`` (the app's ``hierarchy.json`` nodes plus the second parents only its
``hierarchy.tsv`` has; ``shared/reference/genonaut/app.md`` §2). Tag names are the hierarchy
**slugs**, not display names: the gallery's ``?tag=<name>`` filter and content creation with a tag
string resolve a hierarchy slug to uuid5(slug), so only a slug-named tag is found by its name; the
app's own demo named its tags by slug too, and the slugs are the spec pool's names except six
spellings (``3D`` -> ``3d``, ``2D`` -> ``2d``, ``HDR`` -> ``hdr``, ``3D-render`` -> ``3d-render``,
``bird’s-eye`` -> ``bird's-eye``, ``worm’s-eye`` -> ``worm's-eye``).
"""

from __future__ import annotations

import csv
import uuid
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from generator.datasets.genonaut.vocabulary import VOCABULARY

#: ``genonaut/api/utils/tag_identifiers.py``: tag id = uuid5(NAMESPACE_DNS, slug).
TAG_NAMESPACE = uuid.NAMESPACE_DNS
_FILE = Path(__file__).with_name("hierarchy.tsv")


@dataclass(frozen=True)
class TagTree:
    slugs: tuple[str, ...]  # every tag: the categories, then the leaves in pool order
    parent: tuple[str, ...]  # the JSON's single parent ('' for a root)
    second_parent: tuple[str, ...]  # the TSV-only second parent ('' for none)
    n_categories: int

    @property
    def leaves(self) -> tuple[str, ...]:
        """The 101 pool tags (slug spelling), in the spec pool's first-seen order."""
        return self.slugs[self.n_categories :]

    @cached_property
    def ids(self) -> tuple[str, ...]:
        return tuple(str(uuid.uuid5(TAG_NAMESPACE, slug)) for slug in self.slugs)

    @cached_property
    def edges(self) -> tuple[tuple[int, int], ...]:
        """``tag_parents`` rows as (child, parent) tag indexes: first parents, then second ones."""
        index = {slug: i for i, slug in enumerate(self.slugs)}
        first = [(i, index[p]) for i, p in enumerate(self.parent) if p]
        second = [(i, index[p]) for i, p in enumerate(self.second_parent) if p]
        return tuple(first + second)


def _load() -> TagTree:
    lines = [line for line in _FILE.read_text().splitlines() if not line.startswith("#")]
    rows = list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))
    categories = [r for r in rows if not r["pool_name"]]
    leaves = [r for r in rows if r["pool_name"]]
    if tuple(r["pool_name"] for r in leaves) != VOCABULARY.tag_names:
        raise RuntimeError(f"{_FILE.name}: leaves differ from the vocabulary's tag pool")
    ordered = categories + leaves
    return TagTree(
        slugs=tuple(r["slug"] for r in ordered),
        parent=tuple(r["parent"] for r in ordered),
        second_parent=tuple(r["second_parent"] for r in ordered),
        n_categories=len(categories),
    )


TAG_TREE = _load()
