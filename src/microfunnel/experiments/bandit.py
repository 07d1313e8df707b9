"""Contextual bandits: one experiment rule, different variation weights per user context.

A GrowthBook rule with ``contextualVariations`` and a ``contextualBanditRef`` points at a bandit
whose ``contexts`` are leaves, each a condition and its own weights. A user falls into the first
leaf whose condition matches, else the catch-all leaf ``-1`` with the marginal weights. Results
report the leaf (``leafId``, ``variationWeights``, ``banditVersion``).

>>> spec = {"key": "cta", "variations": ["buy", "add"]}
>>> bandit = {"contexts": [{"leafId": 3, "condition": {"device": "mobile"}, "weights": [0.9, 0.1]}]}
>>> [(condition, leaf[0], spec["weights"]) for condition, spec, leaf in bandit_leaves(spec, bandit)]
[({'device': 'mobile'}, 3, [0.9, 0.1]), ({}, -1, [0.5, 0.5])]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from microfunnel.experiments.hashing import get_equal_weights

__all__ = ["Leaf", "bandit_leaves"]

# (leaf id, variation weights, bandit version, the ``contextualBandit`` object results show).
Leaf = tuple[int, list[float], Any, dict[str, Any]]


def bandit_leaves(
    spec: Mapping[str, Any], bandit: Mapping[str, Any]
) -> list[tuple[Mapping[str, Any], dict[str, Any], Leaf]]:
    """(condition, experiment spec with the leaf's weights, leaf) per leaf; catch-all last."""
    marginal = spec.get("weights") or get_equal_weights(len(spec["variations"]))
    leaves = [
        (leaf.get("condition") or {}, leaf.get("leafId"), leaf.get("weights") or marginal)
        for leaf in bandit.get("contexts") or []
    ]
    leaves.append(({}, -1, marginal))
    compiled: list[tuple[Mapping[str, Any], dict[str, Any], Leaf]] = []
    for condition, leaf_id, weights in leaves:
        meta: dict[str, Any] = {"leafId": leaf_id, "variationWeights": weights}
        if "banditVersion" in bandit:
            meta["banditVersion"] = bandit["banditVersion"]
        leaf = (leaf_id, weights, bandit.get("banditVersion"), meta)
        compiled.append((condition, {**spec, "weights": weights}, leaf))
    return compiled
