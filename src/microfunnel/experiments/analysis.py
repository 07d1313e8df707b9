"""The experiment analysis pipeline: store -> sufficient statistics -> statistics -> report.

:func:`analyze` runs the experiment's SQL on the engine (first exposure per person, metrics in
the window after it, pre-exposure covariates, percentile caps), once, and reads everything else
from the resulting small table of sufficient statistics per arm x segment x day:

* per metric and treatment arm: the effect with its interval, the p-value (CUPED-adjusted when
  the covariate helps), the chance to win and the risk, the always-valid mSPRT interval and
  p-value, and p-values adjusted across metrics (the declared correction);
* segment effects, partially pooled across the values of each segment dimension;
* health (``health.py``) and the decision of the declared rule (``decision.py``).

:func:`analyze_table` does the same from any :class:`StatsTable` (``units.py`` builds one from a
CSV or Parquet table of units).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from microfunnel.errors import QueryError
from microfunnel.experiments.decision import make_decision
from microfunnel.experiments.definitions import ExperimentDef
from microfunnel.experiments.design import plan_from_baseline
from microfunnel.experiments.health import (
    check_health,
    data_range,
    velocity_guard,
    velocity_windows,
)
from microfunnel.experiments.metrics import MetricDef
from microfunnel.experiments.report import (
    ArmSummary,
    ExperimentReport,
    MetricResult,
    Role,
    SegmentEffect,
    VelocitySegment,
)
from microfunnel.experiments.tables import (
    MetricLayout,
    StatsTable,
    has_covariate,
    layout,
    metric_stats,
)
from microfunnel.query.experiment import experiment_stats_sql, exposure_summary_sql
from microfunnel.stats import (
    CupedStats,
    MeanStats,
    ProportionStats,
    adjust_pvalues,
    bayes_means,
    bayes_proportions,
    cuped_adjust,
    cuped_test,
    msprt_test,
    partial_pool,
    welch_t_test,
    z_test_proportions,
)
from microfunnel.stats.stopping import Stats
from microfunnel.store.base import Store

__all__ = ["analyze", "analyze_table", "experiment_stats"]

EPOCH = date(1970, 1, 1)


def _naive(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


def _moments(n: int, mean: float, variance: float) -> MeanStats:
    """MeanStats with the given per-unit mean and sample variance (for the Gaussian model)."""
    return MeanStats(n, n * mean, (n - 1) * variance + n * mean * mean)


def compare(
    metric: MetricDef,
    role: Role,
    arm: str,
    control: Stats,
    treatment: Stats,
    *,
    alpha: float,
    tuning_n: float,
) -> MetricResult:
    """Every statistic of one metric, one treatment arm against control."""
    removed = 0.0
    if isinstance(control, CupedStats) and isinstance(treatment, CupedStats):
        cuped = cuped_test(control, treatment, alpha=alpha)
        fixed, removed = cuped.result, cuped.variance_removed
        adj = cuped_adjust(control, treatment)
        a, b = adj.control, adj.treatment
        bayes = bayes_means(_moments(a.n, a.mean, a.variance), _moments(b.n, b.mean, b.variance))
    elif isinstance(control, ProportionStats) and isinstance(treatment, ProportionStats):
        fixed = z_test_proportions(control, treatment, alpha=alpha)
        bayes = bayes_proportions(control, treatment, alpha=alpha)
    else:
        fixed = welch_t_test(control, treatment, alpha=alpha)  # type: ignore[arg-type]
        bayes = bayes_means(
            _moments(control.n, control.mean, control.variance),
            _moments(treatment.n, treatment.mean, treatment.variance),
            alpha=alpha,
        )
    seq = msprt_test(control, treatment, alpha=alpha, tuning_n=max(tuning_n, 1.0))
    up = metric.higher_is_better
    return MetricResult(
        metric.key, metric.kind, role, arm, up, fixed.control_mean, fixed.treatment_mean,
        fixed.effect, fixed.std_error, fixed.ci_lower, fixed.ci_upper, fixed.relative_effect,
        fixed.relative_ci_lower, fixed.relative_ci_upper, fixed.p_value, fixed.p_value,
        bayes.chance_to_beat_control if up else 1 - bayes.chance_to_beat_control,
        bayes.risk_treatment if up else bayes.risk_control, seq.ci_lower, seq.ci_upper,
        seq.p_value, removed, int(control.n), int(treatment.n),
        tuple(sorted({*fixed.warnings, *seq.warnings, *bayes.warnings})),
    )  # fmt: skip


def _roles(exp: ExperimentDef) -> list[tuple[MetricDef, Role]]:
    out: list[tuple[MetricDef, Role]] = []
    for metrics, role in (
        ((exp.primary,), "primary"),
        (exp.secondary, "secondary"),
        (exp.guardrails, "guardrail"),
    ):
        for metric in metrics:
            out.extend((m, role) for m in metric.funnel_steps())  # type: ignore[misc]
    return out


def _segment_effects(
    table: StatsTable, exp: ExperimentDef, lay: MetricLayout, cuped: dict[str, bool]
) -> list[SegmentEffect]:
    out: list[SegmentEffect] = []
    control_arm = exp.arms[0]
    for dim in table.segments:
        values = table.values(dim)
        for metric in exp.metrics:
            for arm in exp.arms[1:]:
                rows = []
                for value in values:
                    ctl, trt = (
                        metric_stats(
                            table.total(table.mask(arm=a, dimension=dim, value=value)), metric,
                            lay.index[metric.key], cuped=cuped[metric.key],
                        )
                        for a in (control_arm, arm)
                    )  # fmt: skip
                    r = compare(metric, "secondary", arm, ctl, trt, alpha=0.05, tuning_n=1.0)
                    rows.append((value, r, r.std_error))
                usable = [x for x in rows if math.isfinite(x[2]) and x[2] > 0]
                pooled = {}
                if len(usable) >= 2:
                    p = partial_pool([x[1].effect for x in usable], [x[2] for x in usable])
                    for i, x in enumerate(usable):
                        pooled[x[0]] = (p.effects[i], p.ci_lower[i], p.ci_upper[i])
                for value, r, se in rows:
                    pe, lo, hi = pooled.get(value, (r.effect, r.ci_lower, r.ci_upper))
                    out.append(SegmentEffect(
                        dim, value, metric.key, arm, r.n_control, r.n_treatment, r.effect, se,
                        pe, lo, hi,
                    ))  # fmt: skip
    return out


def analyze_table(
    table: StatsTable,
    exp: ExperimentDef,
    *,
    mixed_units: int = 0,
    velocity: tuple[VelocitySegment, ...] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    segments: bool = True,
) -> ExperimentReport:
    """The report from a table of sufficient statistics (see the module docstring)."""
    lay = layout(exp.metrics)
    missing = sorted(set(table.arms) - set(exp.arms))
    if missing:
        raise QueryError(
            f"Experiment `{exp.key}` has exposures in arms {missing} that it does not declare "
            f"(declared: {list(exp.arms)}): fix `variations` in experiments.yaml."
        )
    health = check_health(table, exp.arms, exp.weights, mixed_units=mixed_units, velocity=velocity)
    arm_totals = {a: table.total(table.mask(arm=a)) for a in exp.arms}
    pooled = table.total(table.mask())
    cuped = {m.key: has_covariate(pooled, lay.index[m.key]) for m in exp.metrics}
    primary_pooled = metric_stats(pooled, exp.primary.funnel_steps()[0], lay.index[
        exp.primary.funnel_steps()[0].key])  # fmt: skip
    fraction, tuning_n = _progress(exp, primary_pooled, int(pooled["n"]))
    results: list[MetricResult] = []
    primary_stats: dict[str, Stats] = {}
    for metric, role in _roles(exp):
        stats = {
            a: metric_stats(arm_totals[a], metric, lay.index[metric.key], cuped=cuped[metric.key])
            for a in exp.arms
        }
        if role == "primary" and not primary_stats:
            primary_stats = stats
        for arm in exp.arms[1:]:
            results.append(compare(
                metric, role, arm, stats[exp.arms[0]], stats[arm], alpha=exp.stopping.alpha,
                tuning_n=tuning_n,
            ))  # fmt: skip
    results = _adjust(results, exp)
    total = sum(int(t["n"]) for t in arm_totals.values())
    arms = tuple(
        ArmSummary(a, int(arm_totals[a]["n"]), w, int(arm_totals[a]["n"]) / total if total else 0.0)
        for a, w in zip(exp.arms, exp.weights, strict=True)
    )
    primary_key = exp.primary.funnel_steps()[0].key
    decision = make_decision(
        exp, [r for r in results if r.metric == primary_key], primary_stats,
        [r for r in results if r.role == "guardrail"], health, fraction,
    )  # fmt: skip
    days = table.days
    return ExperimentReport(
        exp.key, exp.hypothesis, exp.method,
        f"{exp.stopping.method}, alpha {exp.stopping.alpha}, {exp.stopping.looks} looks",
        since, until,
        EPOCH + timedelta(days=days[0]) if days else None,
        EPOCH + timedelta(days=days[-1]) if days else None,
        arms, tuple(results),
        tuple(_segment_effects(table, exp, lay, cuped)) if segments else (),
        health, decision,
    )  # fmt: skip


def _progress(exp: ExperimentDef, pooled: Stats, units: int) -> tuple[float, float]:
    """(share of the planned sample reached, mSPRT tuning size) from the pooled baseline."""
    kind = "conversion" if isinstance(pooled, ProportionStats) else "mean"
    try:
        plan = plan_from_baseline(
            kind, pooled.mean, pooled.variance, mde=exp.mde, design=exp.stopping.method,
            alpha=exp.stopping.alpha, arms=len(exp.arms), looks=exp.stopping.looks,
        )  # fmt: skip
    except (QueryError, ValueError):
        return 0.0, 5000.0
    return units / plan.total, 2 * plan.fixed_n_per_arm


def _adjust(results: list[MetricResult], exp: ExperimentDef) -> list[MetricResult]:
    from dataclasses import replace

    family = [i for i, r in enumerate(results) if r.role != "guardrail"]
    if len(family) < 2:
        return results
    adjusted = adjust_pvalues(
        [results[i].p_value for i in family], method=exp.correction, scope="metrics",
        alpha=exp.stopping.alpha,
    ).adjusted  # fmt: skip
    out = list(results)
    for i, p in zip(family, adjusted, strict=True):
        out[i] = replace(out[i], adjusted_p_value=p)
    return out


def experiment_stats(
    store: Store, exp: ExperimentDef, *, since: datetime, until: datetime
) -> StatsTable:
    """Run the experiment's SQL on the engine: sufficient statistics per arm x segment x day."""
    lay = layout(exp.metrics)
    sql, params = experiment_stats_sql(
        store.dialect, experiment_id=exp.key, measures=lay.measures, pairs=lay.pairs,
        segments=exp.segments, window_us=int(exp.window_hours * 3_600_000_000),
        covariate_us=int(exp.covariate_days * 86_400_000_000), since=since, until=until,
    )  # fmt: skip
    return StatsTable.from_arrow(store.query(sql, params), exp.segments)


def analyze(
    store: Store,
    exp: ExperimentDef,
    *,
    until: datetime | None = None,
    segments: bool = True,
) -> ExperimentReport:
    """Analyze ``exp`` on the store's data up to ``until`` (default: all of it)."""
    first, last = data_range(store)
    if last is None or first is None:
        raise QueryError("the store has no events yet: nothing to analyze.")
    end = min(_naive(until), last + timedelta(microseconds=1)) if until else last
    end += timedelta(microseconds=1) if until is None else timedelta(0)
    since = _naive(exp.start) if exp.start else datetime(1970, 1, 1)
    table = experiment_stats(store, exp, since=since, until=end)
    if len(table) == 0:
        raise QueryError(
            f"no `experiment_exposure` events for `{exp.key}` yet: check that the experiment "
            "is running and that exposures carry properties experiment_id and variation_id."
        )
    sql, params = exposure_summary_sql(store.dialect, experiment_id=exp.key, since=since, until=end)
    summary = store.query(sql, params).to_pylist()[0]
    launch = _naive(exp.start) if exp.start else datetime(1970, 1, 1) + timedelta(
        microseconds=summary["first_us"])  # fmt: skip
    windows = velocity_windows(launch, first, end)
    velocity: tuple[VelocitySegment, ...] = ()
    if windows is not None:
        dim = "device" if "device" in exp.segments else (exp.segments or ("device",))[0]
        events: Sequence[str] = exp.primary.events
        velocity = velocity_guard(store, events, dim, windows)
    return analyze_table(
        table, exp, mixed_units=int(summary["mixed"] or 0), velocity=velocity, since=since,
        until=end, segments=segments,
    )  # fmt: skip
