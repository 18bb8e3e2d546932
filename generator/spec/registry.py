"""Named strategies implemented in Python: the escape hatch for what a spec cannot say.

A dataset package registers a factory under a name; a spec column uses it with
``{kind: custom, name: NAME, params: {...}}``. The factory gets the params and a ``Context``
(seed, table, column, row counts) and returns a function from a ``Frame`` (row indexes plus the
other columns of those rows, ``frame.get(name)``) to an Arrow array. It must be a pure function
of its inputs, like every built-in strategy::

    from generator.spec.registry import register

    @register("genonaut.prompt")
    def prompt(params, ctx):
        stream = ctx.stream
        return lambda frame: make_prompts(stream, frame.idx, **params)

A table builder (``register_table``, a table's ``builder: {name: ..., params: {...}}``) makes a
whole table: the factory gets the params and a ``Context`` whose column is ``*`` and returns a
function from row indexes (``numpy`` int64) to a dict of column -> Arrow array. It is for
aggregates over other tables, whose row count depends on the data (an exploded builder returns
more rows than it was given; the spec says so with ``fanout``). A factory may instead return a
``BuiltTable``: the function plus what its own code knows of the table's plan (driving rows,
fanout, reserved key ranges, keys shared with other sets, references the schema does not
enforce, columns left to the database), which then wins over the spec's ``rows``/``fanout``.

Names are looked up when the spec is compiled; ``modules`` lists modules imported first (a
package's registrations run on import, so worker processes see them too).
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from seedgen.errors import SpecError
from seedgen.manifest import ReferenceSpec

Factory = Callable[[dict[str, Any], Any], Callable[[Any], Any]]
TableFactory = Callable[[dict[str, Any], Any], "Callable[[Any], Any] | BuiltTable"]
F = TypeVar("F")
_REGISTRY: dict[str, Factory] = {}
_TABLES: dict[str, TableFactory] = {}


@dataclass(frozen=True)
class BuiltTable:
    """A table builder with the plan fields only its code can compute (``None``/empty: the
    spec's). ``build`` maps driving row indexes to a dict of column -> Arrow array."""

    build: Callable[[Any], Any]
    rows: int | None = None
    fanout: float | None = None
    key_ranges: dict[str, list[int]] = field(default_factory=dict)
    shared_keys: tuple[str, ...] = ()
    references: tuple[ReferenceSpec, ...] = ()
    omit: tuple[str, ...] = ()


def register(name: str) -> Callable[[Factory], Factory]:
    def add(factory: Factory) -> Factory:
        _REGISTRY[name] = factory
        return factory

    return add


def register_table(name: str) -> Callable[[TableFactory], TableFactory]:
    def add(factory: TableFactory) -> TableFactory:
        _TABLES[name] = factory
        return factory

    return add


def lookup(name: str, where: str) -> Factory:
    return _find(_REGISTRY, name, where, "custom strategy", "register")


def lookup_table(name: str, where: str) -> TableFactory:
    return _find(_TABLES, name, where, "table builder", "register_table")


def _find(found: dict[str, F], name: str, where: str, what: str, how: str) -> F:
    module = name.rpartition(".")[0]
    if name not in found and module:
        with contextlib.suppress(ImportError):  # the lookup below names what is missing
            importlib.import_module(module)
    if name not in found:
        close = difflib.get_close_matches(name, list(found), n=1)
        raise SpecError(
            f"{where}: no {what} named {name!r}",
            hint=(f"did you mean '{close[0]}'? " if close else "")
            + f"register it with generator.spec.registry.{how} in an importable module "
            "named like its prefix",
        )
    return found[name]
