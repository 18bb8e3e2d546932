"""Values computed from another column of the same row, in order: ``after`` (a time plus an
offset in seconds) and ``offset`` (a number plus or minus an offset, shrunk before a bound).
They are how an ordered pair of a CHECK (``starts_at < ends_at``, ``low <= high``) holds by
construction (``generator.spec.shapes``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from generator.spec import strategies as st
from generator.spec import values
from generator.spec.compile import Context, Fn
from generator.spec.resolve import ResolvedTable, unwrap


def _after(ctx: Context, s: st.After) -> Fn:
    per_second = _time_unit(ctx.table, s.of)

    def run(f: Any) -> pa.Array:
        base = f.get(s.of)
        if s.distribution == "uniform":
            span = s.max_seconds - s.min_seconds
            offset = s.min_seconds + ctx.stream.uniform(f.idx) * span
        else:
            offset = np.minimum(
                s.min_seconds + values.exponential(ctx.stream, f.idx, s.max_seconds), 1e12
            )
        if pa.types.is_timestamp(base.type) or pa.types.is_date(base.type):
            micros = pc.cast(pc.cast(base, pa.timestamp("us")), pa.int64())
            return pc.cast(
                pc.add(micros, pa.array((offset * 1e6).astype(np.int64))), pa.timestamp("us")
            )
        return pc.add(base, pa.array((offset * per_second).astype(np.int64)))

    return run


def _offset(ctx: Context, s: st.Offset) -> Fn:
    """``of`` +/- (min + u * span); with a bound, the span shrinks to what is left before it
    (never below zero: the order with ``of`` holds on every row)."""
    sign = 1.0 if s.direction == "above" else -1.0

    def run(f: Any) -> pa.Array:
        base = pc.cast(f.get(s.of), pa.float64())
        start = np.asarray(base.fill_null(0.0), dtype=np.float64) + sign * s.min
        span = np.full(len(f), s.max - s.min)
        if s.bound is not None:
            span = np.clip(sign * (s.bound - start), 0.0, span)
        value = start + sign * ctx.stream.uniform(f.idx) * span
        return pc.if_else(pc.is_null(base), pa.nulls(len(f), pa.float64()), pa.array(value))

    return run


def _time_unit(table: ResolvedTable, column: str) -> int:
    """Units per second of an epoch-number column: 1000 for ``unit: ms`` (followed through
    ``after`` and ``nullable``), else 1."""
    strat = unwrap(table.spec.columns[column])
    if isinstance(strat, st.After):
        return _time_unit(table, strat.of)
    return 1000 if isinstance(strat, st.Timestamp) and strat.unit == "ms" else 1
