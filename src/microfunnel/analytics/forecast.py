"""Forecast: a funnel model from observed step counts, for "what if this step converted better?".

Each step's rate is the share of persons at the previous step who reach it. Changing one or more
rates gives the predicted macro conversions (``n0 * product of rates``) and revenue (at the
observed revenue per conversion). The interval comes from the observed counts: every unchanged
rate is drawn from its Beta posterior (uniform prior, seeded), changed rates are held at the
value asked for. ``value_per_person`` at a step is the revenue a person reaching that step is
worth on average: what a visitor saved at that step brings in.

>>> f = forecast_funnel(["view_item", "add_to_cart", "purchase"], [10000, 800, 200],
...                     changes={"add_to_cart": 0.095}, revenue=20000.0)
>>> round(f.relative_change, 4), round(f.predicted_revenue, 2)
(0.1875, 23750.0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from typing import Any

import numpy as np

from microfunnel.analytics.scope import check_events, check_where, utc_range
from microfunnel.errors import QueryError
from microfunnel.query.forecast import reach_sql
from microfunnel.query.scope import EventScope
from microfunnel.stats.bayesian import beta_posterior_draws
from microfunnel.stats.suffstats import ProportionStats

__all__ = ["Forecast", "StepForecast", "forecast", "forecast_funnel"]


@dataclass(frozen=True)
class StepForecast:
    step: str
    observed_count: int
    observed_rate: float
    rate: float
    predicted_count: float
    value_per_person: float


@dataclass(frozen=True)
class Forecast:
    steps: tuple[StepForecast, ...]
    baseline_conversions: int
    predicted_conversions: float
    conversions_interval: tuple[float, float]
    relative_change: float
    baseline_revenue: float
    predicted_revenue: float
    revenue_interval: tuple[float, float]
    level: float
    draws: int
    seed: int


def forecast_funnel(
    steps: Sequence[str],
    counts: Sequence[int],
    *,
    changes: Mapping[str, float] | None = None,
    revenue: float = 0.0,
    level: float = 0.95,
    draws: int = 4000,
    seed: int = 0,
) -> Forecast:
    """Predicted conversions and revenue when the rates into ``changes`` steps are set anew."""
    changes = dict(changes or {})
    if len(steps) < 2 or len(steps) != len(counts):
        raise QueryError("give at least two steps and one count per step.", field="counts")
    if any(b > a for a, b in pairwise(counts)) or min(counts) < 0:
        raise QueryError("step counts must not grow along the funnel.", field="counts")
    if counts[0] == 0:
        raise QueryError("no persons at the first step: nothing to forecast.", field="counts")
    for name, rate in changes.items():
        if name not in steps[1:]:
            raise QueryError(
                f"`{name}` is not a later step of this funnel: change one of {list(steps[1:])}.",
                field="changes",
            )
        if not 0.0 <= rate <= 1.0:
            raise QueryError(f"rate for `{name}` must be in [0, 1], got {rate}.", field="changes")
    observed = [1.0] + [b / a if a else 0.0 for a, b in pairwise(counts)]
    rates = [1.0] + [changes.get(s, r) for s, r in zip(steps[1:], observed[1:], strict=True)]
    uncertain = [k for k in range(1, len(steps)) if steps[k] not in changes]
    posterior = iter(
        beta_posterior_draws(
            [ProportionStats(counts[k - 1], counts[k]) for k in uncertain], draws=draws, seed=seed
        )
    )
    sampled = np.ones(draws)
    for k in range(1, len(steps)):
        sampled *= rates[k] if steps[k] in changes else next(posterior)
    predicted = np.cumprod(rates) * counts[0]
    per_conversion = revenue / counts[-1] if counts[-1] else 0.0
    tail = (1 - level) / 2
    lo, hi = (float(q) * counts[0] for q in np.quantile(sampled, [tail, 1 - tail]))
    step_out = tuple(
        StepForecast(
            s, int(n), observed[k], rates[k], float(predicted[k]), revenue / n if n else 0.0
        )
        for k, (s, n) in enumerate(zip(steps, counts, strict=True))
    )
    final = float(predicted[-1])
    return Forecast(
        step_out, int(counts[-1]), final, (lo, hi),
        final / counts[-1] - 1 if counts[-1] else 0.0, revenue, final * per_conversion,
        (lo * per_conversion, hi * per_conversion), level, draws, seed,
    )  # fmt: skip


def forecast(
    store: Any,
    steps: Sequence[str],
    *,
    changes: Mapping[str, float] | None = None,
    start: date | None = None,
    end: date | None = None,
    tz: str = "UTC",
    where: Mapping[str, str] | None = None,
    include_bots: bool = False,
    level: float = 0.95,
    draws: int = 4000,
    seed: int = 0,
) -> Forecast:
    """:func:`forecast_funnel` on the store's counts: persons who did each step and all earlier
    ones in the date range (any order), and the ``value`` of the last step's events (rounded
    to 6 decimals, so engines that sum in a different order agree)."""
    check_events(store, steps)
    since, until = utc_range(start, end, tz)
    scope = EventScope(since, until, check_where(where), include_bots)
    sql, params = reach_sql(list(steps), scope)
    row = store.query(sql, params).to_pylist()[0]
    counts = [int(row[f"r{k}"] or 0) for k in range(len(steps))]
    return forecast_funnel(
        steps, counts, changes=changes, revenue=round(float(row["revenue"] or 0.0), 6), level=level,
        draws=draws, seed=seed,
    )  # fmt: skip
