"""Sizing a test from the shop's own baseline and traffic: users per arm, and how many days.

The baseline (the primary metric's rate or mean and spread per person) and the daily traffic
(distinct persons per day) come from the store over the last ``lookback_days``; the sample size
comes from ``microfunnel.stats`` for the declared stopping rule (sequential designs need more
units at the horizon than a fixed one, by the inflation factor).

>>> p = plan_from_baseline("conversion", 0.10, 0.09, mde=0.10, design="fixed", daily_units=2000)
>>> round(p.n_per_arm), p.days
(14748, 15)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from microfunnel.errors import QueryError
from microfunnel.experiments.definitions import ExperimentDef
from microfunnel.experiments.health import data_range
from microfunnel.experiments.metrics import MetricDef
from microfunnel.experiments.tables import layout
from microfunnel.query.experiment import baseline_sql
from microfunnel.stats import Design, PowerResult, sample_size_means, sample_size_proportions
from microfunnel.store.base import Store

__all__ = ["Plan", "plan_experiment", "plan_from_baseline"]


@dataclass(frozen=True, slots=True)
class Plan:
    """``n_per_arm`` units in each of ``arms`` arms; ``days`` at ``daily_units`` new units a day.

    ``fixed_n_per_arm`` is the fixed-horizon size (the mSPRT is tuned to be tightest there).
    """

    metric: str
    kind: str
    baseline: float
    sd: float
    mde: float
    design: Design
    alpha: float
    power: float
    arms: int
    n_per_arm: float
    fixed_n_per_arm: float
    total: float
    inflation: float
    daily_units: float | None
    days: int | None


def plan_from_baseline(
    kind: str,
    baseline: float,
    variance: float,
    *,
    mde: float,
    design: Design = "msprt",
    alpha: float = 0.05,
    power: float = 0.8,
    arms: int = 2,
    looks: int = 10,
    daily_units: float | None = None,
    metric: str = "",
) -> Plan:
    """Size a test to detect a relative lift ``mde`` on a metric with this per-unit
    ``baseline`` mean and ``variance`` (conversion: the rate and ``p(1 - p)``)."""
    result: PowerResult
    if kind == "conversion":
        result = sample_size_proportions(
            baseline, mde, alpha=alpha, power=power, design=design, looks=looks
        )
    else:
        if variance <= 0 or baseline == 0:
            raise QueryError(
                f"cannot size a test on `{metric}`: its baseline has no variation yet; "
                "collect some traffic first, or size it on a conversion metric."
            )
        result = sample_size_means(
            math.sqrt(variance), mde * abs(baseline), alpha=alpha, power=power, design=design,
            looks=looks,
        )  # fmt: skip
    n = result.n_per_arm
    total = n * arms
    days = math.ceil(total / daily_units) if daily_units else None
    return Plan(
        metric, kind, baseline, math.sqrt(max(variance, 0.0)), mde, design, alpha, power, arms,
        n, n / result.inflation, total, result.inflation, daily_units, days,
    )  # fmt: skip


def _baseline(
    store: Store, metric: MetricDef, since: datetime, until: datetime
) -> tuple[float, float, float]:
    measure = layout([metric]).measures[0]
    sql, params = baseline_sql(store.dialect, measure=measure, since=since, until=until)
    row = store.query(sql, params).to_pylist()[0]
    units = int(row["units"] or 0)
    if units < 2:
        raise QueryError(
            f"no traffic between {since:%Y-%m-%d} and {until:%Y-%m-%d} to size `{metric.key}` "
            "from: send events first, or widen --lookback-days."
        )
    mean = (row["total"] or 0.0) / units
    var = ((row["total_sq"] or 0.0) - units * mean * mean) / (units - 1)
    if measure.kind == "conversion":
        var = mean * (1 - mean)
    return units, mean, max(var, 0.0)


def plan_experiment(
    store: Store,
    experiment: ExperimentDef,
    *,
    until: datetime | None = None,
    lookback_days: int = 28,
    power: float = 0.8,
    mde: float | None = None,
) -> Plan:
    """Size ``experiment`` on its primary metric from the store's last ``lookback_days``."""
    if until is None:
        last = data_range(store)[1]
        if last is None:
            raise QueryError("the store has no events: send some before planning a test.")
        until = last + timedelta(microseconds=1)
    since = until - timedelta(days=lookback_days)
    units, mean, var = _baseline(store, experiment.primary, since, until)
    metric = experiment.primary
    rule = experiment.stopping
    return plan_from_baseline(
        metric.measure.kind if metric.kind != "ratio" else "ratio", mean, var,
        mde=mde or experiment.mde, design=rule.method, alpha=rule.alpha, power=power,
        arms=len(experiment.variations), looks=rule.looks, daily_units=units / lookback_days,
        metric=metric.key,
    )  # fmt: skip
