"""Drivers: which micro-conversions go with the macro conversion, and a lead score.

:func:`drivers` compares, for every candidate event (and chosen ``column=value`` pairs), the
persons who did it before converting with those who did not: the odds ratio of converting with
a Woolf 95 % interval, a two-proportion z-test, and Benjamini-Hochberg control of the false
discovery rate across candidates. :func:`lead_score` fits a logistic regression of conversion
on per-person counts of micro-conversions (computed in the engine) and reports points per event
and the AUC on held-out persons.

Both are associations, not causes (:data:`~microfunnel.analytics.scope.ASSOCIATION_NOTE`).
The odds-ratio interval, the logistic fit and the AUC come from ``microfunnel.stats``
(re-exported here for existing callers).

Example::

    d = drivers(store, macro="purchase", properties=["device"])
    [(x.candidate, round(x.odds_ratio, 2)) for x in d.drivers if x.significant]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from microfunnel.analytics.scope import (
    ASSOCIATION_NOTE,
    check_events,
    check_where,
    utc_range,
)
from microfunnel.errors import QueryError
from microfunnel.query.drivers import ALL, candidates_sql, counts_sql
from microfunnel.query.scope import EventScope
from microfunnel.stats.association import fit_logistic, odds_ratio, roc_auc
from microfunnel.stats.corrections import adjust_pvalues
from microfunnel.stats.frequentist import z_test_proportions
from microfunnel.stats.suffstats import ProportionStats

__all__ = [
    "Driver",
    "Drivers",
    "FeatureWeight",
    "LeadScore",
    "drivers",
    "fit_logistic",
    "lead_score",
    "odds_ratio",
    "roc_auc",
]

POINTS_TO_DOUBLE = 20.0
"""Lead-score points that double the odds of converting (the scorecard convention)."""


@dataclass(frozen=True)
class Driver:
    candidate: str
    persons: int
    converted: int
    conversion_rate: float
    others_conversion_rate: float
    odds_ratio: float
    ci_lower: float
    ci_upper: float
    p_value: float
    q_value: float
    significant: bool


@dataclass(frozen=True)
class Drivers:
    macro: str
    persons: int
    converters: int
    min_persons: int
    drivers: tuple[Driver, ...]
    too_rare: tuple[str, ...]
    correction: str
    note: str


@dataclass(frozen=True)
class FeatureWeight:
    event: str
    coefficient: float
    odds_ratio_per_event: float
    points: float


@dataclass(frozen=True)
class LeadScore:
    macro: str
    intercept: float
    features: tuple[FeatureWeight, ...]
    cap: int
    train_persons: int
    test_persons: int
    test_auc: float
    points_to_double: float
    note: str


def _scope(store: Any, events: Sequence[str], start: Any, end: Any, tz: str, where: Any,
           include_bots: bool) -> EventScope:  # fmt: skip
    check_events(store, events)
    since, until = utc_range(start, end, tz)
    return EventScope(since, until, check_where(where), include_bots)


def drivers(
    store: Any,
    macro: str = "purchase",
    *,
    properties: Sequence[str] = (),
    min_persons: int = 30,
    alpha: float = 0.05,
    start: date | None = None,
    end: date | None = None,
    tz: str = "UTC",
    where: dict[str, str] | None = None,
    include_bots: bool = False,
) -> Drivers:
    """Odds ratios of converting for every candidate done by ``min_persons`` or more (and not
    done by as many), strongest first; ``q_value`` is the Benjamini-Hochberg adjusted p-value."""
    check_where(dict.fromkeys(properties, ""))
    scope = _scope(store, [macro], start, end, tz, where, include_bots)
    sql, params = candidates_sql(macro, tuple(properties), scope)
    rows = {r["candidate"]: r for r in store.query(sql, params).to_pylist()}
    total = rows.pop(ALL)
    n, conv = int(total["persons"]), int(total["converted"])
    kept: list[tuple[str, int, int]] = []
    rare: list[tuple[str, int, int]] = []
    for name in sorted(rows):
        did, did_conv = int(rows[name]["persons"]), int(rows[name]["converted"])
        (kept if min(did, n - did) >= min_persons else rare).append((name, did, did_conv))
    tests = [
        z_test_proportions(ProportionStats(n - did, conv - dc), ProportionStats(did, dc))
        for _, did, dc in kept
    ]
    adjusted = adjust_pvalues(
        [t.p_value for t in tests], method="bh", scope="candidates", alpha=alpha,
        labels=[k[0] for k in kept],
    ).adjusted if kept else ()  # fmt: skip
    out = []
    for (name, did, dc), test, q in zip(kept, tests, adjusted, strict=True):
        ratio, lo, hi = odds_ratio(dc, did - dc, conv - dc, n - did - (conv - dc), alpha)
        driver = Driver(
            name, did, dc, test.treatment_mean, test.control_mean, ratio, lo, hi,
            test.p_value, q, q <= alpha,
        )  # fmt: skip
        out.append(driver)
    out.sort(key=lambda x: (-x.odds_ratio, x.candidate))
    return Drivers(
        macro, n, conv, min_persons, tuple(out), tuple(r[0] for r in rare),
        "benjamini-hochberg", ASSOCIATION_NOTE,
    )  # fmt: skip


def lead_score(
    store: Any,
    macro: str = "purchase",
    *,
    features: Sequence[str] | None = None,
    cap: int = 10,
    test_share: float = 0.3,
    l2: float = 1.0,
    seed: int = 0,
    start: date | None = None,
    end: date | None = None,
    tz: str = "UTC",
    where: dict[str, str] | None = None,
    include_bots: bool = False,
) -> LeadScore:
    """Logistic regression of converting on pre-conversion event counts (capped at ``cap``).

    ``features`` default to every event but the macro conversion. A random ``test_share`` of
    persons (seeded) is held out to measure the AUC. ``points`` are ``20 / ln 2`` times each
    coefficient: 20 more points double the odds of converting.
    """
    if not 0.0 < test_share < 1.0:
        raise QueryError("test_share must be between 0 and 1, e.g. 0.3.", field="test_share")
    names = list(features) if features is not None else [
        e for e in store.event_names() if e != macro
    ]  # fmt: skip
    if not names:
        raise QueryError("no features: pass the events to score with `features`.")
    scope = _scope(store, [macro, *names], start, end, tz, where, include_bots)
    sql, params = counts_sql(macro, names, cap, scope)
    table = store.query(sql, params)
    y = table.column("converted").to_numpy()
    x = np.column_stack([table.column(f"f{i}").to_numpy() for i in range(len(names))])
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = round(test_share * len(y))
    test, train = order[:n_test], order[n_test:]
    if len(np.unique(y[train])) < 2:
        raise QueryError(f"need persons with and without `{macro}` to fit a lead score.")
    beta = fit_logistic(x[train], y[train], l2=l2)
    auc = roc_auc(y[test], x[test] @ beta[1:])
    scale = POINTS_TO_DOUBLE / math.log(2)
    weights = tuple(
        FeatureWeight(name, float(b), math.exp(b), round(float(b) * scale, 1))
        for name, b in zip(names, beta[1:], strict=True)
    )
    return LeadScore(
        macro, float(beta[0]), weights, cap, len(train), len(test), auc, POINTS_TO_DOUBLE,
        ASSOCIATION_NOTE,
    )  # fmt: skip
