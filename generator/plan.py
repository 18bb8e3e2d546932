"""Resolve a dataset and its settings into a plan before producing any row.

The plan fixes table order (``graphlib`` over the models' FKs; a cycle is named), each table's
column specs from the models, the shard ranges and an estimate of bytes from a small sample
build. ``--dry-run`` prints exactly this plan; ``generate`` executes it.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter

import pyarrow as pa
import pyarrow.parquet as pq

from generator import schema
from generator.dataset import Dataset, TableGen
from seedgen.errors import SpecError
from seedgen.manifest import ColumnSpec

SAMPLE_ROWS = 256


@dataclass(frozen=True)
class TablePlan:
    gen: TableGen
    columns: list[ColumnSpec]
    primary_key: list[str]
    depends_on: list[str]
    shards: list[tuple[int, int]]

    @property
    def name(self) -> str:
        return self.gen.name

    @property
    def expected_rows(self) -> int:
        return round(self.gen.rows * self.gen.fanout)


@dataclass(frozen=True)
class Plan:
    dataset: Dataset
    tables: list[TablePlan]

    @property
    def expected_rows(self) -> int:
        return sum(t.expected_rows for t in self.tables)


def resolve_plan(dataset: Dataset) -> Plan:
    gens = {g.name: g for g in dataset.tables()}
    graph = {}
    for name in gens:
        table = schema.get_table(dataset.metadata, name)
        graph[name] = sorted(p for p in schema.fk_parents(table) if p in gens)
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise SpecError(f"foreign keys form a cycle: {' -> '.join(exc.args[1])}") from exc
    shard_rows = dataset.settings.shard_rows
    plans = []
    for name in order:
        gen, table = gens[name], dataset.metadata.tables[name]
        specs = _checked_columns(gen, schema.column_specs(table))
        step = max(1, shard_rows // max(1, math.ceil(gen.fanout)))
        shards = [(a, min(a + step, gen.rows)) for a in range(0, gen.rows, step)] or [(0, 0)]
        plans.append(TablePlan(gen, specs, schema.primary_key(table), graph[name], shards))
    return Plan(dataset, plans)


def _checked_columns(gen: TableGen, specs: list[ColumnSpec]) -> list[ColumnSpec]:
    known = {c.name for c in specs}
    unknown = [c for c in gen.produces if c not in known]
    if unknown:
        raise SpecError(f"{gen.name}: dataset produces columns not in the model: {unknown}")
    missing = [c.name for c in specs if not c.nullable and c.name not in gen.produces]
    if missing:
        raise SpecError(
            f"{gen.name}: NOT NULL columns with no generator: {', '.join(missing)}",
            hint="add them to the dataset's builder (COPY would fail on them)",
        )
    return [c for c in specs if c.name not in gen.omit]


def build_table(dataset: Dataset, plan: TablePlan, start: int, stop: int) -> pa.Table:
    """Rows ``[start, stop)`` as an Arrow table in manifest column order and types.

    Nullable columns the dataset does not produce are written as NULL.
    """
    produced = dataset.build(plan.name, start, stop) if stop > start else {}
    n = len(next(iter(produced.values()))) if produced else 0
    target = schema.arrow_schema(plan.columns)
    arrays = []
    for field in target:
        value = produced.get(field.name)
        arrays.append(pa.nulls(n, field.type) if value is None else value.cast(field.type))
    return pa.Table.from_arrays(arrays, schema=target)


def estimate_bytes(dataset: Dataset, plan: TablePlan, fmt: str) -> int:
    """Bytes of the table's shards, extrapolated from a small sample written in ``fmt``."""
    stop = min(plan.gen.rows, SAMPLE_ROWS)
    if stop == 0:
        return 0
    sample = build_table(dataset, plan, 0, stop)
    buf = io.BytesIO()
    if fmt == "parquet":
        pq.write_table(sample, buf, compression="zstd")
    else:
        import pyarrow.csv as pacsv

        pacsv.write_csv(sample, buf)
    return round(buf.tell() / stop * plan.gen.rows)
