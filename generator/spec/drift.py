"""Which columns of a spec depend on the installed Faker, and a warning when a reference set was
made with another Faker version.

A ``faker`` column samples a pool that Faker builds from a seed: the same seed gives the same
pool only with the same Faker release (its providers' word lists and algorithms change between
releases). Every other built-in strategy depends only on seedgen's own code. So a set generated
again "like" an earlier one (``seedgen generate --spec X --like SET``, or over an existing set
with ``--force``) can differ in exactly those columns, and seedgen says which. Custom strategies
(``kind: custom``) are code this module cannot see into: if one uses Faker, it is not listed.
mimesis is not used by any built-in strategy, so there is nothing to compare for it.
"""

from __future__ import annotations

from pathlib import Path

import faker

from generator.spec import strategies as st
from generator.spec.model import DatasetSpec
from seedgen.manifest import MANIFEST_NAME, read_manifest


def pool_columns(spec: DatasetSpec) -> list[str]:
    """``table.column`` of every Faker-backed column (inside ``nullable`` and ``json`` too)."""
    found = []
    for table, tspec in spec.tables.items():
        for column, strat in tspec.columns.items():
            if _uses_faker(strat):
                found.append(f"{table}.{column}")
    return found


def _uses_faker(strat: st.Strategy) -> bool:
    if isinstance(strat, st.Faker):
        return True
    if isinstance(strat, st.Nullable):
        return _uses_faker(strat.of)
    if isinstance(strat, st.Json):
        return any(_uses_faker(sub) for sub in strat.fields.values())
    return False


def faker_warning(reference: Path, spec: DatasetSpec) -> str | None:
    """The warning to print when ``reference``'s Faker differs from ours and ``spec`` uses it.

    ``reference`` must be a set (it has a manifest); its manifest is read like any set's.
    """
    columns = pool_columns(spec)
    if not columns:
        return None
    theirs = read_manifest(reference).versions.get("faker")
    if theirs == faker.VERSION:
        return None
    made = f"Faker {theirs}" if theirs else "no recorded Faker version"
    shown = ", ".join(columns[:6]) + (f" and {len(columns) - 6} more" if len(columns) > 6 else "")
    return (
        f"{reference} was made with {made}, this is Faker {faker.VERSION}: pool-backed columns "
        f"may differ from it for the same seed ({shown})"
    )


def reference_set(like: Path | None, out: Path | None, force: bool) -> Path | None:
    """The set to compare with: ``--like``, else the set ``--force`` is about to replace."""
    if like is not None:
        return like
    if force and out is not None and (out / MANIFEST_NAME).is_file():
        return out
    return None
