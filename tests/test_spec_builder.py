"""Table-level named builders (``builder:``), dataset ``params`` and ``modules``: a builder makes
a whole table (an aggregate, an exploded table) from the spec's params; bad builders are one
line naming the table and what to change, at plan time."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from generator.datasets.genonaut import models
from generator.spec.model import parse_spec
from generator.spec.registry import register_table
from generator.spec.resolve import resolve
from generator.spec.runtime import Generator
from generator.spec.sources import table_infos
from seedgen.errors import SpecError


@register_table("testkit.edges")
def _edges(params: dict[str, Any], ctx: Any) -> Any:
    """``per_row`` rows per driving row: child ``row``, parent ``base + k``."""
    per_row, base = int(params["per_row"]), int(ctx.params["base"])

    def run(idx: np.ndarray) -> dict[str, pa.Array]:
        rows = np.repeat(idx, per_row)
        parents = base + np.tile(np.arange(per_row), len(idx))
        return {
            "tag_id": pa.array([f"t{r}" for r in rows]),
            "parent_id": pa.array([f"p{p}" for p in parents]),
        }

    return run


def _generator(builder: dict[str, Any], params: dict[str, Any] | None = None) -> Generator:
    spec = parse_spec(
        {
            "dataset": "t",
            "modules": ["tests.test_spec_builder"],
            "params": params or {"base": 100},
            "tables": {"tag_parents": {"rows": 3, "builder": builder}},
        }
    )
    tables = resolve(spec, table_infos(models.metadata), None)
    return Generator(tables, seed=1, params=spec.params, modules=tuple(spec.modules))


def test_a_builder_makes_the_whole_table_from_the_params() -> None:
    gen = _generator({"name": "testkit.edges", "params": {"per_row": 2}, "fanout": 2})
    out = gen.build("tag_parents", 1, 3)
    assert out["tag_id"].to_pylist() == ["t1", "t1", "t2", "t2"]
    assert out["parent_id"].to_pylist() == ["p100", "p101", "p100", "p101"]
    assert gen.rows["tag_parents"] == 3  # driving rows; the builder explodes them


@pytest.mark.parametrize(
    ("builder", "message"),
    [
        ({"name": "testkit.edgez"}, "no table builder named 'testkit.edgez'"),
        ({"name": "testkit.edges", "columns": ["tag_id", "kid"]}, "builder column 'kid'"),
        ({"name": "testkit.edges", "columns": ["tag_id"]}, "column parent_id: NOT NULL"),
    ],
)
def test_a_bad_builder_is_one_line(builder: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as err:
        _generator({**builder, "params": {"per_row": 1}})
    assert message in err.value.message
    assert "\n" not in err.value.message and err.value.hint


def test_a_builder_table_takes_no_column_strategies() -> None:
    with pytest.raises(SpecError, match="a builder table takes rows only"):
        parse_spec(
            {
                "dataset": "t",
                "tables": {
                    "x": {
                        "rows": 1,
                        "builder": {"name": "a.b"},
                        "columns": {"c": {"kind": "const", "value": 1}},
                    }
                },
            }
        )
