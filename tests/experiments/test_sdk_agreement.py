"""The official `growthbook` Python SDK and our evaluator agree on a payload we build."""

from __future__ import annotations

import random
from typing import Any

import pytest
from growthbook import GrowthBook

from microfunnel.experiments.features import Evaluator
from microfunnel.experiments.payload import build_payload

EXPERIMENTS = [
    {
        "key": "popup-test",
        "status": "running",
        "variations": [
            {"key": "control", "value": "none"},
            {"key": "popup", "name": "Exit popup", "value": "popup"},
            {"key": "banner", "value": "banner"},
        ],
        "weights": [0.5, 0.25, 0.25],
        "coverage": 0.8,
        "condition": {"cart_value": {"$gte": 20}},
        "namespace": {"id": "checkout", "range": [0, 0.7]},
    },
    {
        "key": "size-guide",
        "status": "running",
        "hash_version": 1,
        "hash_attribute": "device_id",
        "variations": [{"key": "off", "value": False}, {"key": "on", "value": True}],
    },
]
FLAGS = [
    {
        "key": "checkout-popup",
        "type": "string",
        "default": "none",
        "rules": [
            {
                "type": "force",
                "id": "staff",
                "condition": {"email": {"$regex": "@shop\\.test$"}},
                "value": "banner",
            },
            {
                "type": "rollout",
                "id": "mobile-de",
                "condition": {"device": "mobile", "country": {"$in": ["DE", "AT"]}},
                "value": "popup",
                "coverage": 0.3,
                "holdout": 0.1,
            },
            {"type": "experiment", "id": "test", "experiment": "popup-test"},
        ],
    },
    {
        "key": "size-guide",
        "type": "boolean",
        "default": False,
        "rules": [
            {
                "type": "experiment",
                "id": "sg",
                "experiment": "size-guide",
                "prerequisites": [{"flag": "checkout-popup", "condition": {"value": {"$ne": "x"}}}],
            },
        ],
    },
    {
        "key": "free-shipping-threshold",
        "type": "number",
        "default": 50,
        "rules": [
            {
                "type": "force",
                "condition": {"$or": [{"plan": "pro"}, {"visits": {"$gt": 10}}]},
                "value": 0,
            },
        ],
    },
]


def make_users(count: int) -> list[dict[str, Any]]:
    rng = random.Random(20240601)
    return [
        {
            "id": f"user-{rng.getrandbits(40):010x}",
            "device_id": rng.choice([f"d{rng.getrandbits(20)}", ""]),
            "device": rng.choice(["mobile", "desktop"]),
            "country": rng.choice(["DE", "AT", "FR", "US"]),
            "cart_value": rng.choice([0, 15, 20, 75.5]),
            "plan": rng.choice(["free", "pro"]),
            "visits": rng.randint(0, 20),
            "email": rng.choice(["a@shop.test", "b@example.com", None]),
        }
        for _ in range(count)
    ]


@pytest.mark.parametrize("feature", [flag["key"] for flag in FLAGS])
def test_official_sdk_agrees_for_many_users(feature: str) -> None:
    payload = build_payload(FLAGS, EXPERIMENTS, date_updated="2025-06-01T00:00:00.000Z")
    ours = Evaluator.from_payload(payload)
    official = GrowthBook(features=payload["features"])
    sources = set()
    for attributes in make_users(1500):
        official.set_attributes(attributes)
        theirs = official.eval_feature(feature)
        mine = ours.eval_feature(feature, attributes)
        sources.add(mine.source)
        assert (mine.value, mine.source, mine.rule_id) == (
            theirs.value,
            theirs.source,
            theirs.ruleId or "",
        ), attributes
        if mine.experiment_result is not None:
            assert theirs.experimentResult is not None
            got = mine.experiment_result
            want = theirs.experimentResult
            assert (got.variation_id, got.bucket, got.key, got.hash_used) == (
                want.variationId,
                want.bucket,
                want.key,
                want.hashUsed,
            )
    # The generated users exercise more than one path through every flag.
    assert len(sources) >= 2
