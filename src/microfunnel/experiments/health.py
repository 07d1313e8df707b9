"""Health checks run before any effect is read: is the experiment itself sound?

* **Sample ratio**: units per arm against the declared weights, drilled down by segment and day
  (``microfunnel.stats.srm_test`` / ``srm_drilldown``).
* **Units in several arms**: persons (after identity merges) exposed to more than one arm are
  left out of the metrics and counted here; more than 1 % points at broken assignment.
* **Too little data**: fewer than :data:`MIN_UNITS_PER_ARM` units in an arm.
* **Velocity guard**: per segment, micro-conversions per minute over the last day against the
  pre-launch baseline (the week before launch, or the first week when there is no history). A
  segment whose velocity fell below :data:`COLLAPSE_RATIO` of its baseline, where at least
  :data:`MIN_EXPECTED` events were expected, has collapsed: most likely tracking broke (a
  release dropped an event) rather than shoppers changed. No decision is declared until it
  recovers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from microfunnel.experiments.report import Health, VelocitySegment
from microfunnel.experiments.tables import StatsTable
from microfunnel.query.experiment import data_range_sql, velocity_sql
from microfunnel.stats import srm_drilldown, srm_test
from microfunnel.store.base import Store

__all__ = [
    "COLLAPSE_RATIO",
    "MIN_EXPECTED",
    "MIN_UNITS_PER_ARM",
    "VelocityWindows",
    "check_health",
    "velocity_guard",
    "velocity_windows",
]

MIN_UNITS_PER_ARM = 100
COLLAPSE_RATIO = 0.5
MIN_EXPECTED = 20.0
MIXED_ALARM = 0.01
BASELINE = timedelta(days=7)
RECENT = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class VelocityWindows:
    baseline: tuple[datetime, datetime]
    recent: tuple[datetime, datetime]


def velocity_windows(
    launch: datetime, data_first: datetime, data_end: datetime
) -> VelocityWindows | None:
    """Baseline and recent windows (naive UTC), or ``None`` while there is too little history."""
    recent = (data_end - RECENT, data_end)
    if data_first <= launch - RECENT:  # history before launch: the week before it
        return VelocityWindows((max(data_first, launch - BASELINE), launch), recent)
    end = min(launch + BASELINE, recent[0])
    if end - launch < RECENT:
        return None
    return VelocityWindows((launch, end), recent)


def velocity_guard(
    store: Store, events: Sequence[str], dimension: str, windows: VelocityWindows
) -> tuple[VelocitySegment, ...]:
    """Velocity per value of ``dimension`` (see the module docstring)."""
    sql, params = velocity_sql(
        events=events, segment=dimension, baseline=windows.baseline, recent=windows.recent
    )
    base_min = (windows.baseline[1] - windows.baseline[0]).total_seconds() / 60
    recent_min = (windows.recent[1] - windows.recent[0]).total_seconds() / 60
    out = []
    for row in store.query(sql, params).to_pylist():
        base, recent = row["baseline"] / base_min, row["recent"] / recent_min
        ratio = recent / base if base > 0 else 1.0
        expected = base * recent_min
        collapsed = expected >= MIN_EXPECTED and ratio < COLLAPSE_RATIO
        out.append(VelocitySegment(dimension, str(row["segment"]), base, recent, ratio, collapsed))
    return tuple(out)


def data_range(store: Store) -> tuple[datetime | None, datetime | None]:
    sql, params = data_range_sql()
    row = store.query(sql, params).to_pylist()[0]

    def naive(t: datetime | None) -> datetime | None:  # engines differ: ClickHouse says UTC
        return t.astimezone(UTC).replace(tzinfo=None) if t is not None and t.tzinfo else t

    return naive(row["first"]), naive(row["last"])


def check_health(
    table: StatsTable,
    arms: Sequence[str],
    weights: Sequence[float],
    *,
    mixed_units: int = 0,
    velocity: tuple[VelocitySegment, ...] = (),
) -> Health:
    """SRM (with drill-down by segment and day), units in several arms, too little data."""
    counts = [int(table.total(table.mask(arm=a))["n"]) for a in arms]
    srm = srm_test(counts, weights)
    slices: dict[tuple[str, str], list[int]] = {}
    for dim in table.segments:
        for value in table.values(dim):
            slices[(dim, value)] = [
                int(table.total(table.mask(arm=a, dimension=dim, value=value))["n"]) for a in arms
            ]
    for day in table.days:
        slices[("day", str(day))] = [
            int(table.columns["n"][(table.arm == a) & (table.day == day)].sum()) for a in arms
        ]
    drill = srm_drilldown(slices, weights) if srm.mismatch else ()
    units = sum(counts) + mixed_units
    too_little = min(counts) < MIN_UNITS_PER_ARM
    problems = []
    if srm.mismatch:
        where = f"; worst in {drill[0].dimension} = {drill[0].value}" if drill else ""
        problems.append(
            f"sample ratio mismatch: arms got {counts} units for weights {list(weights)} "
            f"(p = {srm.p_value:.2g}){where}. Assignment or exposure logging is broken: fix it "
            "and restart; no effect can be trusted."
        )
    if units and mixed_units / units > MIXED_ALARM:
        problems.append(
            f"{mixed_units} units ({mixed_units / units:.1%}) were exposed to several arms "
            "(after identity merges): they are left out; check the hash attribute and sticky "
            "bucketing."
        )
    if too_little:
        problems.append(
            f"too little data: the smallest arm has {min(counts)} units "
            f"(at least {MIN_UNITS_PER_ARM} are needed before reading effects)."
        )
    for v in velocity:
        if v.collapsed:
            problems.append(
                f"velocity collapse in {v.dimension} = {v.value}: {v.recent_per_minute:.3g} "
                "micro-conversions per minute over the last day against "
                f"{v.baseline_per_minute:.3g} at baseline ({v.ratio:.0%}). Tracking probably "
                "broke; no decision until it recovers."
            )
    return Health(srm, drill, units, mixed_units, too_little, velocity, tuple(problems))
