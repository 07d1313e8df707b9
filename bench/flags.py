"""Flag evaluation speed: microfunnel's evaluator against the official `growthbook` SDK.

One feature with 2 targeting rules (a force rule on country and device, then an experiment on
plan and cart value), evaluated for many generated users in one process. Each user is evaluated
by both SDKs in interleaved blocks (alternating which goes first), every call timed with
time.perf_counter_ns, and the two answers are checked to agree.

    .venv/bin/python bench/flags.py [--users 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from typing import Any

from growthbook import GrowthBook

from microfunnel.experiments.features import Evaluator

FEATURE = "checkout-popup"
FEATURES: dict[str, Any] = {
    FEATURE: {
        "defaultValue": "none",
        "rules": [
            {
                "id": "mobile-anglo",
                "condition": {"country": {"$in": ["US", "CA", "GB"]}, "device": "mobile"},
                "force": "sheet",
            },
            {
                "id": "popup-test",
                "key": "popup-test",
                "condition": {"plan": {"$ne": "free"}, "cart_value": {"$gte": 50}},
                "variations": ["none", "popup", "banner"],
                "weights": [0.34, 0.33, 0.33],
                "coverage": 0.9,
                "hashAttribute": "id",
                "hashVersion": 2,
                "meta": [{"key": "control"}, {"key": "popup"}, {"key": "banner"}],
            },
        ],
    }
}


def users(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "id": f"anon-{rng.getrandbits(48):012x}",
            "country": rng.choice(["US", "DE", "FR", "GB", "CA", "NL"]),
            "device": rng.choice(["mobile", "desktop", "tablet"]),
            "plan": rng.choice(["free", "plus", "pro"]),
            "cart_value": round(rng.uniform(0, 200), 2),
        }
        for _ in range(count)
    ]


def percentile(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


def time_ours(ours: Evaluator, block: list[dict[str, Any]], clock: Any) -> list[Any]:
    out = []
    for attributes in block:
        t0 = clock()
        result = ours.eval_feature(FEATURE, attributes)
        out.append((result, clock() - t0))
    return out


def time_theirs(theirs: GrowthBook, block: list[dict[str, Any]], clock: Any) -> list[Any]:
    out = []
    for attributes in block:
        t0 = clock()
        theirs.set_attributes(attributes)
        t1 = clock()
        result = theirs.eval_feature(FEATURE)
        t2 = clock()
        out.append((result, t2 - t1, t2 - t0))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--block", type=int, default=500, help="users per interleaved block")
    args = parser.parse_args()

    population = users(args.users)
    ours = Evaluator(FEATURES)
    theirs = GrowthBook(features=FEATURES)
    clock = time.perf_counter_ns
    paths: list[str] = []
    ours_ns: list[int] = []
    theirs_eval_ns: list[int] = []
    theirs_user_ns: list[int] = []
    gc.disable()
    try:
        for round_index in range(args.rounds):
            for start in range(0, len(population), args.block):
                block = population[start : start + args.block]
                # Alternate which SDK goes first, so neither always runs on a warm cache.
                if round_index % 2:
                    theirs_pairs = time_theirs(theirs, block, clock)
                    ours_pairs = time_ours(ours, block, clock)
                else:
                    ours_pairs = time_ours(ours, block, clock)
                    theirs_pairs = time_theirs(theirs, block, clock)
                for attributes, (mine, a), (official, b, c) in zip(
                    block, ours_pairs, theirs_pairs, strict=True
                ):
                    if mine.value != official.value or mine.source != official.source:
                        raise SystemExit(f"disagreement for {attributes}: {mine} vs {official}")
                    paths.append(mine.source)
                    ours_ns.append(a)
                    theirs_eval_ns.append(b)
                    theirs_user_ns.append(c)
    finally:
        gc.enable()

    rows = [
        ("microfunnel Evaluator.eval_feature", ours_ns),
        ("growthbook eval_feature", theirs_eval_ns),
        ("growthbook set_attributes + eval_feature", theirs_user_ns),
    ]
    print(f"{len(ours_ns)} evaluations per SDK ({args.users} users x {args.rounds} rounds)")
    print(f"{'':44} {'median us':>10} {'p99 us':>10}")
    for name, samples in rows:
        print(
            f"{name:44} {statistics.median(samples) / 1000:10.2f} {percentile(samples, 0.99):10.2f}"
        )
    print("by outcome (share of evaluations): median us ours / growthbook eval_feature")
    for source in sorted(set(paths)):
        idx = [i for i, p in enumerate(paths) if p == source]
        mine_med = statistics.median(ours_ns[i] for i in idx) / 1000
        theirs_med = statistics.median(theirs_eval_ns[i] for i in idx) / 1000
        print(f"  {source:14} {len(idx) / len(paths):5.0%}  {mine_med:8.2f} / {theirs_med:8.2f}")
    ratio = statistics.median(theirs_eval_ns) / statistics.median(ours_ns)
    print(f"ratio (growthbook eval_feature median / ours): {ratio:.1f}x")


if __name__ == "__main__":
    main()
