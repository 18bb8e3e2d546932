"""Property tests (hypothesis) of the engine's promises, over random sizes, layouts and seeds.

- determinism: same seed => identical tables whatever ``shard_rows``, ``max_workers``, batch
  sizes and format; another seed => other data (and disjoint keyed UUIDs);
- every value is a pure function of (seed, table, column, row): any split of ``[0, n)`` into
  ranges, built separately and concatenated, equals the whole;
- ``permute`` is a bijection (exhaustively for small ``n``, and at millions);
- quotas are exact: ``quota_counts`` equals the largest-remainder split in exact arithmetic,
  ``quota`` assigns exactly those counts, and genonaut's statuses and admin rows follow;
- keyed UUIDs are RFC 4122 version 4 (variant 10) and distinct, checked for every value;
- samples without replacement have no duplicate within a row, for any sizes.

CI runs a few examples of each (the whole module in well under a minute); ``SEEDGEN_DEEP=1``
multiplies them by 20 (``SEEDGEN_DEEP=1 .venv/bin/pytest tests/test_properties.py``).
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from generator import columns as col
from generator.datasets.genonaut.tagtree import TAG_NAMESPACE, TAG_TREE
from generator.engine import Request, load_dataset
from generator.plan import build_table, resolve_plan
from generator.rng import Stream, permute
from seedgen.manifest import read_manifest
from tests.conftest import ADMIN, SMALL, make_set
from tests.exact import largest_remainder, share_tolerance, status_counts
from tests.shards import read_tables

DEEP = os.environ.get("SEEDGEN_DEEP") == "1"
U64 = st.integers(min_value=0, max_value=2**64 - 1)
SEEDS = st.integers(min_value=0, max_value=2**63 - 1)


def budget(examples: int) -> settings:
    """``examples`` in CI, 20 times as many under ``SEEDGEN_DEEP=1``."""
    return settings(
        max_examples=examples * 20 if DEEP else examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


# --------------------------------------------------------------------------- strategies


@st.composite
def genonaut_sizes(draw: st.DrawFn) -> dict[str, Any]:
    """Tiny genonaut configs: row counts (zero content included), admin rows, status weights."""
    items = draw(st.integers(0, 40))
    auto = draw(st.integers(0, 40))
    others = draw(
        st.dictionaries(
            st.sampled_from(["pending", "canceled", "error", "x" * 20, "queued"]),
            st.one_of(st.just(0.0), st.floats(1e-3, 20.0)),
            max_size=4,
        )
    )
    return {
        "target_rows_users": draw(st.integers(2, 14)),
        "target_rows_content_items": items,
        "target_rows_content_items_auto": auto,
        "admin_rows_per_content_table": draw(st.integers(0, min(items, auto))),
        "status_weights": {"completed": draw(st.floats(1.0, 100.0)), **others},
        "tags_per_item_max": draw(st.integers(0, 120)),
        "favorite_tags_max": draw(st.integers(0, 150)),  # past the 101 tag names too
    }


layouts = st.fixed_dictionaries(
    {
        "shard_rows": st.integers(1, 300),
        "max_workers": st.integers(1, 3),
        "format": st.sampled_from(["parquet", "csv"]),
        "batch_size_default": st.integers(1, 64),
        "batch_size_content_items": st.integers(1, 64),
        "batch_size_content_items_auto": st.integers(1, 64),
    }
)
ONE_SHARD = {"shard_rows": 10**6, "max_workers": 1, "format": "parquet"}


def dataset_of(**overrides: Any) -> Any:
    return load_dataset(Request("genonaut", None, {**SMALL, **overrides}, Path("env/.env-absent")))


def assert_same_tables(got: dict[str, pa.Table], want: dict[str, pa.Table]) -> None:
    assert got.keys() == want.keys()
    for name, table in want.items():
        assert got[name].schema == table.schema, name
        assert got[name].equals(table), f"{name}: contents differ"


# --------------------------------------------------------------------------- determinism


@given(seed=SEEDS, sizes=genonaut_sizes(), layout=layouts)
@budget(8)
def test_same_seed_same_tables_whatever_the_layout(
    seed: int, sizes: dict[str, Any], layout: dict[str, Any]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        # In-process first: the forked workers of the second run inherit its Faker pools.
        reference = read_tables(make_set(Path(tmp) / "ref", seed=seed, **sizes, **ONE_SHARD))
        other = make_set(Path(tmp) / "other", seed=seed, **sizes, **layout)
        shards = {t.name: len(t.shards) for t in read_manifest(other).tables}
        assert_same_tables(read_tables(other), reference)
    expected_shards = -(-sizes["target_rows_users"] // layout["shard_rows"])
    assert shards["users"] == expected_shards, "the layout was really used"


#: The same in every set by design: the app's tag hierarchy, and aggregates of other tables
#: (counts that can coincide for tiny sets; the rows they count are checked below).
# Fixed data, the same in every set: the tag tree, the stats over it and the app's model catalogue.
NOT_SEEDED = {"tag_parents", "tag_cardinality_stats", "gen_source_stats"}
NOT_SEEDED |= {"models_checkpoints", "models_loras", "available_models"}


@given(seeds=st.lists(SEEDS, min_size=2, max_size=2, unique=True), sizes=genonaut_sizes())
@budget(2)
def test_another_seed_other_data(seeds: list[int], sizes: dict[str, Any]) -> None:
    sizes = {**sizes, "target_rows_users": max(sizes["target_rows_users"], 3)}
    with tempfile.TemporaryDirectory() as tmp:
        a, b = (
            read_tables(make_set(Path(tmp) / str(s), seed=s, **sizes, **ONE_SHARD)) for s in seeds
        )
    for name in a.keys() - NOT_SEEDED:
        if a[name].num_rows or b[name].num_rows:
            assert not a[name].equals(b[name]), f"{name}: two seeds gave the same rows"
    # Keyed UUID spaces are the seed's: no generated user id is shared (the admin is).
    ids_a, ids_b = (set(t["users"]["id"].to_pylist()) - {ADMIN} for t in (a, b))
    assert len(ids_a) == sizes["target_rows_users"] - 1 and not ids_a & ids_b


@given(seed=SEEDS, cuts=st.lists(st.floats(0, 1), max_size=6), sizes=genonaut_sizes())
@budget(8)
def test_every_value_is_a_function_of_its_row(
    seed: int, cuts: list[float], sizes: dict[str, Any]
) -> None:
    """Any split of every table's rows, built piece by piece, concatenates to the whole."""
    dataset = dataset_of(seed=seed % 4, **sizes)  # four seeds: Faker pools stay cached
    for plan in resolve_plan(dataset).tables:
        n = plan.gen.rows
        whole = build_table(dataset, plan, 0, n)
        bounds = sorted({0, n, *(round(c * n) for c in cuts)})
        pieces = [build_table(dataset, plan, a, b) for a, b in pairwise(bounds)]
        assert pa.concat_tables([whole.slice(0, 0), *pieces]).equals(whole), plan.name


# --------------------------------------------------------------------------- permute


@given(n=st.integers(1, 5000), key=U64, rounds=st.integers(1, 6))
@example(n=2, key=2**64 - 1, rounds=4)  # round keys wrap past 2**64 (numpy warned)
@budget(60)
def test_permute_is_a_bijection_exhaustively(n: int, key: int, rounds: int) -> None:
    out = permute(np.arange(n), n, np.uint64(key), rounds)
    assert np.array_equal(np.sort(out), np.arange(n))


@given(n=st.integers(1, 100_000), key=U64, data=st.data())
@budget(20)
def test_permute_is_addressed(n: int, key: int, data: st.DataObject) -> None:
    """Evaluated at any indexes, in any order, it gives what the whole evaluation gives there."""
    whole = permute(np.arange(n), n, np.uint64(key))
    idx = np.array(data.draw(st.lists(st.integers(0, n - 1), max_size=200)), dtype=np.int64)
    assert np.array_equal(permute(idx, n, np.uint64(key)), whole[idx])


# 2**20 + 1: the domain is 4**11, four times n, the most cycle walking there is.
@pytest.mark.parametrize("n", [3_000_000, 2**20 + 1])
def test_permute_is_a_bijection_at_millions(n: int) -> None:
    out = permute(np.arange(n), n, np.uint64(0x5EED))
    assert out.min() == 0 and out.max() == n - 1
    assert (np.bincount(out, minlength=n) == 1).all(), "every value exactly once"


# --------------------------------------------------------------------------- quotas

weights_lists = st.lists(
    st.one_of(
        st.just(0.0),
        st.floats(1e-300, 1e300),  # huge ratios between weights
        st.floats(0.0, 1.0),
        st.integers(0, 10**6).map(float),
        # decimals and thirds, as people write them: shares that tie up to float rounding
        st.integers(0, 1000).map(lambda v: v / 10),
        st.integers(1, 9).map(lambda d: 1 / d),
    ),
    min_size=1,
    max_size=8,
).filter(lambda w: sum(w) > 0)
# Weights as people write them (tenths, thirds): their exact shares often tie, and in floats
# the tie is broken by rounding noise unless the split is computed exactly.
written_weights = st.lists(
    st.sampled_from([0.1, 0.2, 0.3, 0.6, 0.7, 0.9, 1 / 3, 2 / 3, 1.0, 3.0]), min_size=2, max_size=5
)


@given(
    n=st.one_of(st.integers(0, 1000), st.integers(0, 10**6)),
    weights=st.one_of(weights_lists, written_weights),
)
@example(n=2, weights=[0.3, 0.1])  # 1.5 : 0.5, a tie: 2 : 0; in floats the noise gave 1 : 1
@budget(300)
def test_quota_counts_are_the_exact_largest_remainder_split(n: int, weights: list[float]) -> None:
    counts = col.quota_counts(n, weights)
    assert counts == largest_remainder(n, weights)
    assert sum(counts) == n and min(counts) >= 0


@pytest.mark.parametrize("weights", [[0.0], [0.0, 0.0, 0.0], [1.0, -1.0], [float("nan")]])
def test_quota_counts_refuse_weights_that_split_nothing(weights: list[float]) -> None:
    with pytest.raises(ValueError, match="weights"):
        col.quota_counts(10, weights)


@given(
    n=st.integers(1, 200_000),
    weights=weights_lists,
    short=st.integers(0, 50),
    key=U64,
    cuts=st.lists(st.floats(0, 1), max_size=4),
)
@budget(25)
def test_quota_assigns_exactly_the_counts_in_any_split(
    n: int, weights: list[float], short: int, key: int, cuts: list[float]
) -> None:
    """Category k gets exactly counts[k] rows (the rows the counts leave: category len(counts)),
    and building the rows in ranges gives the same assignment."""
    counts = col.quota_counts(max(n - short, 0), weights)
    stream = Stream(np.uint64(key))
    whole = col.quota(stream, np.arange(n), n, counts)
    want = [*counts, n - sum(counts)]
    assert np.bincount(whole, minlength=len(want)).tolist() == want
    bounds = sorted({0, n, *(round(c * n) for c in cuts)})
    pieces = [col.quota(stream, np.arange(a, b), n, counts) for a, b in pairwise(bounds)]
    assert np.array_equal(np.concatenate(pieces), whole)


@given(sizes=genonaut_sizes())
@budget(15)
def test_statuses_and_admin_rows_are_exact(sizes: dict[str, Any]) -> None:
    dataset = dataset_of(seed=42, **sizes)
    plans = {p.name: p for p in resolve_plan(dataset).tables}
    built = {name: build_table(dataset, p, 0, p.gen.rows) for name, p in plans.items()}
    n_content = sizes["target_rows_content_items"] + sizes["target_rows_content_items_auto"]
    stored = dataset.settings.stored_status  # the spec's words as the app spells them
    want = {stored(k): v for k, v in status_counts(n_content, sizes["status_weights"]).items() if v}
    got = pc.value_counts(built["generation_jobs"]["status"]).to_pylist()
    assert {d["values"]: d["counts"] for d in got} == want
    for table in ("content_items", "content_items_auto"):
        admin = pc.sum(pc.equal(built[table]["creator_id"], ADMIN)).as_py() or 0
        assert admin == sizes["admin_rows_per_content_table"], table


def test_extra_jobs_do_not_depend_on_how_python_sums_floats() -> None:
    """Ten weights of 0.1 sum to 0.9999999999999999 in Python 3.11's ``sum`` and to 1.0 in
    3.12's (compensated): 3 items x that / 2 rounded to 1 or 2 extra jobs, by Python version.
    As written, they sum to 1: 1.5, rounded half to even, 2 extra jobs everywhere."""
    weights = {"completed": 2.0, **{f"s{k}": 0.1 for k in range(10)}}
    dataset = dataset_of(
        target_rows_content_items=1,
        target_rows_content_items_auto=2,
        admin_rows_per_content_table=0,
        status_weights=weights,
    )
    assert sum(dataset.extra_statuses[1]) == 2
    assert status_counts(3, weights) == {
        "completed": 3,
        "s0": 1,
        "s1": 1,
        **dict.fromkeys([f"s{k}" for k in range(2, 10)], 0),
    }


def test_favorite_tags_are_capped_at_the_tag_names() -> None:
    """``favorite_tags_max`` past the 101 names: capped, like ``tags_per_item_max`` (it used to
    fail the generation with pyarrow's "Length spanned by list offsets ... larger than values")."""
    dataset = dataset_of(target_rows_users=400, favorite_tags_min=90, favorite_tags_max=150)
    users = build_table(dataset, resolve_plan(dataset).tables[0], 0, 400)
    sizes = [len(json.loads(p)["favorite_tags"]) for p in users["preferences"].to_pylist()]
    assert min(sizes) >= 90 and max(sizes) == 101
    at_cap = sizes.count(101) / 400  # uniform over 90..101: 1/12, not 50/61 piled up at 101
    assert abs(at_cap - 1 / 12) <= share_tolerance(400, 1 / 12), at_cap


# --------------------------------------------------------------------------- UUIDs

_IS_HEX = np.zeros(256, dtype=bool)
_IS_HEX[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = True
_DASHES = [8, 13, 18, 23]
_VARIANT_10 = np.frombuffer(b"89ab", dtype=np.uint8)


def uuid_matrix(values: pa.Array | pa.ChunkedArray) -> NDArray[np.uint8]:
    """Every value as a row of 36 ASCII bytes; no nulls, every value exactly 36 bytes."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    assert values.null_count == 0
    lengths = pc.binary_length(values).to_numpy()
    assert (lengths == 36).all(), f"{int((lengths != 36).sum())} values are not 36 characters"
    fixed = values.cast(pa.binary(36))
    raw = np.frombuffer(fixed.buffers()[1], dtype=np.uint8)
    return raw[fixed.offset * 36 : (fixed.offset + len(fixed)) * 36].reshape(-1, 36)


def assert_rfc4122(values: pa.Array | pa.ChunkedArray, version: int, unique: bool = True) -> None:
    """Canonical lower-case text, the version nibble, variant bits 10; for every value."""
    chars = uuid_matrix(values)
    hex_positions = np.setdiff1d(np.arange(36), _DASHES)
    assert (chars[:, _DASHES] == ord("-")).all(), "dashes at 8, 13, 18, 23"
    assert _IS_HEX[chars[:, hex_positions]].all(), "lower-case hex digits"
    wrong = int((chars[:, 14] != ord(str(version))).sum())
    assert not wrong, f"{wrong} values are not version {version}"
    assert np.isin(chars[:, 19], _VARIANT_10).all(), "variant bits 10"
    if unique:  # canonical text: equal text <=> equal UUID
        assert pc.count_distinct(values).as_py() == len(values), "duplicates"


@given(key=U64, start=st.integers(0, 2**40), n=st.integers(0, 50_000))
@budget(20)
def test_keyed_uuids_are_valid_v4_and_distinct(key: int, start: int, n: int) -> None:
    values = col.uuid4_strings(np.uint64(key), np.arange(start, start + n))
    assert_rfc4122(values, version=4)


def test_a_million_keyed_uuids_all_valid_and_distinct() -> None:
    values = col.uuid4_strings(np.uint64(7), np.arange(1_000_000))
    assert_rfc4122(values, version=4)
    # and the checker agrees with Python's own parser
    sample = values.take(pa.array(np.arange(0, 1_000_000, 100_003))).to_pylist()
    assert all(str(uuid.UUID(s)) == s and uuid.UUID(s).version == 4 for s in sample)


def test_every_uuid_of_a_set_is_valid(tmp_path: Path) -> None:
    """Every value of every uuid column of a set (and the UUID inside each content path)."""
    set_dir = make_set(tmp_path / "set", max_workers=1)
    tables = read_tables(set_dir)
    checked = 0
    for spec in read_manifest(set_dir).tables:
        for column in (c.name for c in spec.columns if c.pg_type == "uuid"):
            values = pc.drop_null(tables[spec.name][column])  # gen_source_stats: community rows
            # UUIDv5 of the tag's slug
            # UUIDv5 of a catalogue model's name (the same in every set: ``catalog.model_id``)
            tag_ids = spec.name in ("tags", "models_checkpoints", "models_loras") or column in (
                "tag_id",
                "parent_id",
            )
            is_pk = spec.primary_key == [column]
            assert_rfc4122(values, version=5 if tag_ids else 4, unique=is_pk)
            checked += len(values)
    names = tables["tags"]["name"].to_pylist()
    assert tables["tags"]["id"].to_pylist() == [str(uuid.uuid5(TAG_NAMESPACE, s)) for s in names]
    assert sorted(names) == sorted(TAG_TREE.slugs)
    content = ("content_items", "content_items_auto")
    paths = pa.chunked_array([c for t in content for c in tables[t]["content_data"].chunks])
    inner = pc.utf8_slice_codeunits(paths, len("data/images/"), len("data/images/") + 36)
    assert_rfc4122(inner, version=4)
    assert checked > 60_000


# --------------------------------------------------------------------------- samples


@st.composite
def sample_args(draw: st.DrawFn) -> dict[str, Any]:
    pool = draw(st.integers(1, 120))
    # sometimes past 8192 rows, where the rows are sampled in chunks
    n = draw(st.one_of(st.integers(0, 300), st.integers(0, 300), st.integers(8000, 8600)))
    k_min = draw(st.integers(0, pool + 5))
    k_max = draw(st.integers(k_min, pool + 20))
    per_row = draw(st.booleans())
    allowed = None
    if draw(st.booleans()):
        density = draw(st.floats(0, 1))
        allowed = np.random.default_rng(draw(U64)).random((n, pool)) < density
    return {
        "pool_size": pool,
        "n": n,
        "start": draw(st.integers(0, 10**9)),
        "k_min": k_min,
        "k_max": np.random.default_rng(n).integers(k_min, k_max + 1, n) if per_row else k_max,
        "allowed": allowed,
    }


@given(args=sample_args(), key=U64, data=st.data())
@budget(15)
def test_samples_without_replacement(args: dict[str, Any], key: int, data: st.DataObject) -> None:
    n, pool, k_min, k_max = args["n"], args["pool_size"], args["k_min"], args["k_max"]
    allowed = args["allowed"]
    stream = Stream(np.uint64(key))
    idx = np.arange(args["start"], args["start"] + n)
    off, val = col.sample_lists(stream, idx, pool, k_min, k_max, allowed)
    sizes = np.diff(off)
    assert len(off) == n + 1 and off[0] == 0 and off[-1] == len(val)
    available = np.full(n, pool) if allowed is None else allowed.sum(axis=1)
    top = np.minimum(np.broadcast_to(k_max, (n,)), available)
    assert (sizes <= top).all() and (sizes >= np.minimum(k_min, top)).all()
    row = np.repeat(np.arange(n), sizes)
    assert ((val >= 0) & (val < pool)).all()
    if allowed is not None:
        assert allowed[row, val].all(), "only allowed items"
    pairs = np.unique(row * pool + val)
    assert len(pairs) == len(val), "a value twice in one row"
    # Rows [a, b) evaluated on their own equal rows [a, b) of the whole evaluation.
    a = data.draw(st.integers(0, n))
    b = data.draw(st.integers(a, n))
    k_sub = k_max if np.isscalar(k_max) else k_max[a:b]
    sub_off, sub_val = col.sample_lists(
        stream, idx[a:b], pool, k_min, k_sub, None if allowed is None else allowed[a:b]
    )
    assert np.array_equal(sub_off, off[a : b + 1] - off[a])
    assert np.array_equal(sub_val, val[off[a] : off[b]])
