"""Engine building blocks: bijections, keyed UUIDs, samples without replacement, quotas."""

from __future__ import annotations

import uuid

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from generator import columns as col
from generator.rng import Stream, name_key, permute
from generator.text import TemplateSet


@given(st.integers(min_value=1, max_value=5000), st.integers(min_value=0, max_value=2**32))
@settings(max_examples=60, deadline=None)
def test_permute_is_a_bijection(n: int, key: int) -> None:
    out = permute(np.arange(n), n, np.uint64(key))
    assert sorted(out.tolist()) == list(range(n))


def test_streams_are_addressed_not_consumed() -> None:
    s = Stream.of(1, "t", "c")
    whole = s.uniform(np.arange(1000))
    assert np.array_equal(whole[500:], s.uniform(np.arange(500, 1000)))
    assert not np.array_equal(whole, Stream.of(2, "t", "c").uniform(np.arange(1000)))
    assert not np.array_equal(whole, Stream.of(1, "t", "d").uniform(np.arange(1000)))


def test_uniform_is_uniform() -> None:
    u = Stream.of(3, "t", "u").uniform(np.arange(200_000))
    counts = np.histogram(u, bins=10, range=(0, 1))[0]
    expected = 20_000
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 33.7  # p = 0.0001 for 9 degrees of freedom


def test_uuid4_strings_are_valid_and_distinct() -> None:
    values = col.uuid4_strings(name_key(1, "users"), np.arange(100_000)).to_pylist()
    assert len(set(values)) == len(values)
    assert all(uuid.UUID(v).version == 4 and str(uuid.UUID(v)) == v for v in values[:2000])


def test_sample_lists_distinct_within_bounds_and_chunk_independent() -> None:
    s = Stream.of(5, "t", "tags")
    idx = np.arange(20_000)
    off, val = col.sample_lists(s, idx, 101, 0, 101)
    sizes = np.diff(off)
    assert sizes.min() == 0 and sizes.max() == 101
    for a, b in zip(off[:-1][:500], off[1:][:500], strict=True):
        row = val[a:b]
        assert len(set(row.tolist())) == len(row) and (row < 101).all()
    off2, val2 = col.sample_lists(s, idx[10_000:], 101, 0, 101)
    assert np.array_equal(val2, val[off[10_000] :])


def test_quota_is_exact() -> None:
    counts = col.quota_counts(2449, [0.9, 0.1, 1.0])
    assert sum(counts) == 2449 and counts == [1102, 122, 1225]
    got = col.quota(Stream.of(1, "j", "status"), np.arange(2449), 2449, counts)
    assert np.bincount(got).tolist() == counts


def test_templates_drop_separators_next_to_empty_slots() -> None:
    t = TemplateSet(["{{ a }}, {{ b }}", "<{{ b }}|{{ a }}>"], ["a", "b"])
    out = t.render(
        np.array([0, 0, 1, 1]),
        {"a": pa.array(["x", "y", "z", "w"]), "b": pa.array(["1", "", "2", ""])},
    )
    assert out.to_pylist() == ["x, 1", "y", "<2|z>", "<w>"]


def test_weighted_sample_lists_follow_the_weights() -> None:
    """The exponential race picks item i first with probability w_i / sum(w)."""
    n, weights = 200_000, np.array([8.0, 4.0, 2.0, 1.0, 1.0])
    _off, first = col.sample_lists(Stream.of(6, "t", "w"), np.arange(n), 5, 1, 1, weights=weights)
    share = np.bincount(first, minlength=5) / n
    p = weights / weights.sum()
    assert (np.abs(share - p) <= 4 * np.sqrt(p * (1 - p) / n)).all(), share
    off, val = col.sample_lists(Stream.of(6, "t", "w"), np.arange(2000), 5, 0, 5, weights=weights)
    for a, b in zip(off[:-1], off[1:], strict=True):
        assert len(set(val[a:b].tolist())) == b - a  # still without replacement


def test_packed_sort_orders_like_a_stable_argsort() -> None:
    rank = Stream.of(7, "t", "r").grid(np.arange(3000), 101)
    rank[:, 5] = rank[:, 70]  # ties go to the lower column
    rank[::3, 9] = np.inf  # excluded items sort last
    assert np.array_equal(col._stable_order(rank), np.argsort(rank, axis=1, kind="stable"))
    assert rank[np.isfinite(rank)].min() > 0 and rank[np.isfinite(rank)].max() <= 1
