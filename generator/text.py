"""Text from Jinja2 templates, assembled vectorised.

A template such as ``{{ domain }}, {{ general }}`` is compiled by Jinja2 once and rendered once
with sentinel values, which yields its *layout*: literal text and slots in order. Rows are then
assembled column-wise with pyarrow (``binary_join_element_wise``), so a template costs the same
for a million rows as for ten. A literal standing between two slots is emitted only when both
slots are non-empty in that row, so ``a, b`` degrades to ``a`` when ``b`` has no phrases.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import jinja2
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from seedgen.errors import SpecError

_SENTINEL = "\x00{}\x00"
_SPLIT = re.compile("\x00(\\d+)\x00")


@dataclass(frozen=True)
class Layout:
    """Alternating parts: ``str`` literals and ``int`` slot numbers."""

    parts: tuple[str | int, ...]


def compile_layout(source: str, slots: Sequence[str]) -> Layout:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    try:
        rendered = env.from_string(source).render(
            {name: _SENTINEL.format(n) for n, name in enumerate(slots)}
        )
    except jinja2.TemplateError as exc:
        raise SpecError(
            f"template {source!r}: {exc}", hint=f"available slots: {', '.join(slots)}"
        ) from exc
    pieces = _SPLIT.split(rendered)
    parts: list[str | int] = []
    for n, piece in enumerate(pieces):
        if n % 2:
            parts.append(int(piece))
        elif piece:
            parts.append(piece)
    if not any(isinstance(p, int) for p in parts):
        raise SpecError(f"template {source!r} uses none of the slots {', '.join(slots)}")
    return Layout(tuple(parts))


class TemplateSet:
    """Several templates over the same named slots; each row uses the template it is given."""

    def __init__(self, sources: Sequence[str], slots: Sequence[str]) -> None:
        if not sources:
            raise SpecError("a template set needs at least one template")
        self.slots = tuple(slots)
        self.layouts = [compile_layout(src, self.slots) for src in sources]

    def __len__(self) -> int:
        return len(self.layouts)

    def render(self, which: NDArray[np.int64], values: Mapping[str, pa.Array]) -> pa.StringArray:
        columns = [values[name] for name in self.slots]
        empty = [pc.equal(pc.binary_length(col), 0) for col in columns]
        result: pa.Array | None = None
        for number, layout in enumerate(self.layouts):
            text = self._assemble(layout, columns, empty)
            chosen = pa.array(which == number)
            result = text if result is None else pc.if_else(chosen, text, result)
        assert result is not None
        return result

    @staticmethod
    def _assemble(layout: Layout, columns: list[pa.Array], empty: list[pa.Array]) -> pa.Array:
        parts = layout.parts
        pieces: list[pa.Array | str] = []
        for pos, part in enumerate(parts):
            if isinstance(part, int):
                pieces.append(columns[part])
                continue
            before = parts[pos - 1] if pos > 0 else None
            after = parts[pos + 1] if pos + 1 < len(parts) else None
            if isinstance(before, int) and isinstance(after, int):
                either_empty = pc.or_(empty[before], empty[after])
                pieces.append(pc.if_else(either_empty, "", part))
            else:
                pieces.append(part)
        if len(pieces) == 1:
            only = pieces[0]
            return only if isinstance(only, pa.Array) else pa.array([only] * len(columns[0]))
        return pc.binary_join_element_wise(*pieces, "")
