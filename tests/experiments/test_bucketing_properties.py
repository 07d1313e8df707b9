"""Property tests: bucketing is deterministic, ranges are well formed, coverage only adds users."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from microfunnel.experiments.conditions import compile_condition
from microfunnel.experiments.features import Evaluator
from microfunnel.experiments.hashing import (
    choose_variation,
    fnv1a32,
    get_bucket_ranges,
    hash_value,
)

texts = st.text(max_size=40)
weights_strategy = st.lists(st.floats(0.01, 1.0), min_size=2, max_size=6).map(
    lambda ws: [w / sum(ws) for w in ws]
)


def utf16_fnv(text: str) -> int:
    """Reference FNV-1a over UTF-16 code units, written the long way."""
    data = text.encode("utf-16-le")
    h = 0x811C9DC5
    for i in range(0, len(data), 2):
        h = ((h ^ int.from_bytes(data[i : i + 2], "little")) * 0x01000193) % 2**32
    return h


@given(texts)
def test_fnv_hashes_utf16_code_units(text: str) -> None:
    assert fnv1a32(text) == utf16_fnv(text)


@given(texts, texts, st.sampled_from([1, 2]))
def test_hash_is_deterministic_and_in_unit_interval(seed: str, value: str, version: int) -> None:
    n = hash_value(seed, value, version)
    assert n is not None
    assert 0 <= n < 1
    assert hash_value(seed, value, version) == n
    assert round(n, 3 if version == 1 else 4) == n


@given(texts, texts, st.integers(3, 100))
def test_unknown_hash_version_gives_none(seed: str, value: str, version: int) -> None:
    assert hash_value(seed, value, version) is None


@given(weights_strategy, st.floats(0, 1))
def test_bucket_ranges_are_disjoint_ordered_and_scaled(weights: list[float], cover: float) -> None:
    ranges = get_bucket_ranges(len(weights), cover, weights)
    assert len(ranges) == len(weights)
    for (start, end), weight in zip(ranges, weights, strict=True):
        assert 0 <= start <= end <= 1 + 1e-9
        assert abs((end - start) - cover * weight) < 1e-9
    for (_, end), (next_start, _) in itertools.pairwise(ranges):
        assert end <= next_start + 1e-9


@given(weights_strategy, st.floats(0, 1), st.floats(0, 1), st.floats(0, 0.9999))
def test_raising_coverage_never_moves_assigned_users(
    weights: list[float], low: float, high: float, n: float
) -> None:
    low, high = min(low, high), max(low, high)
    before = choose_variation(n, get_bucket_ranges(len(weights), low, weights))
    after = choose_variation(n, get_bucket_ranges(len(weights), high, weights))
    if before >= 0:
        assert after == before


@given(st.text(min_size=1, max_size=30), st.integers(2, 5))
def test_experiment_assignment_is_deterministic(user_id: str, n_variations: int) -> None:
    flags = Evaluator()
    experiment = {"key": "exp", "variations": list(range(n_variations)), "hashVersion": 2}
    first = flags.run(experiment, {"id": user_id})
    assert first.in_experiment
    assert flags.run(experiment, {"id": user_id}).variation_id == first.variation_id
    assert first.bucket is not None
    expected = choose_variation(first.bucket, get_bucket_ranges(n_variations, 1.0, None))
    assert first.variation_id == expected


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.sampled_from("ab"))


@given(json_scalars, st.lists(json_scalars, max_size=4))
def test_in_and_nin_are_complements_for_list_conditions(value: object, options: list) -> None:
    attributes = {"x": value}
    in_cond = compile_condition({"x": {"$in": options}})
    nin_cond = compile_condition({"x": {"$nin": options}})
    assert in_cond(attributes) != nin_cond(attributes)
    strict_members = [o for o in options if type(o) is type(value) and o == value]
    assert in_cond(attributes) == bool(strict_members)
