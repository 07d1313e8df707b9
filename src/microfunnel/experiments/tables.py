"""Sufficient statistics per arm x segment x day, and the per-metric statistics they add up to.

The engine (``microfunnel.query.experiment``) or a table of units (``units.py``) produce the
rows; :class:`StatsTable` sums any slice of them (an arm, a segment value, the days up to a
look) and :func:`metric_stats` turns the sums into the stats dataclasses
(``ProportionStats``, ``MeanStats``, ``RatioStats``, ``CupedStats``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from microfunnel.experiments.metrics import Measure, MetricDef
from microfunnel.query.experiment import MeasureSpec
from microfunnel.stats import CupedStats, MeanStats, ProportionStats, RatioStats

__all__ = ["MetricLayout", "StatsTable", "has_covariate", "layout", "metric_stats"]

Stats = ProportionStats | MeanStats | RatioStats | CupedStats


@dataclass(frozen=True, slots=True)
class MetricLayout:
    """Which measures (columns of the stats table) each metric reads."""

    measures: tuple[MeasureSpec, ...]
    pairs: tuple[tuple[int, int], ...]
    index: Mapping[str, tuple[int, int | None]]


def layout(metrics: Sequence[MetricDef]) -> MetricLayout:
    """Deduplicated measures for ``metrics`` and, per metric, its (measure, denominator) index."""
    measures: list[MeasureSpec] = []

    def find(m: Measure, cap: float | None) -> int:
        spec = MeasureSpec(m.kind, m.events, cap if m.kind != "conversion" else None)
        if spec not in measures:
            measures.append(spec)
        return measures.index(spec)

    index: dict[str, tuple[int, int | None]] = {}
    pairs: list[tuple[int, int]] = []
    for metric in metrics:
        num = find(metric.measure, metric.cap)
        den = None if metric.denominator is None else find(metric.denominator, None)
        if den is not None:
            pairs.append((num, den))
        index[metric.key] = (num, den)
    return MetricLayout(tuple(measures), tuple(dict.fromkeys(pairs)), index)


@dataclass(frozen=True)
class StatsTable:
    """Rows of sufficient statistics; ``columns`` holds ``n`` and every sum column."""

    segments: tuple[str, ...]
    arm: NDArray[Any]
    day: NDArray[np.int64]
    segment_values: Mapping[str, NDArray[Any]]
    columns: Mapping[str, NDArray[np.float64]]

    @classmethod
    def from_arrow(cls, table: pa.Table, segments: Sequence[str]) -> StatsTable:
        names = set(table.column_names) - {"arm", "day", *segments}
        return cls(
            tuple(segments),
            np.asarray(table.column("arm").to_pylist(), dtype=object),
            np.asarray(table.column("day").to_numpy(zero_copy_only=False), dtype=np.int64),
            {s: np.asarray(table.column(s).to_pylist(), dtype=object) for s in segments},
            {
                c: np.asarray(table.column(c).to_numpy(zero_copy_only=False), dtype=float)
                for c in names
            },
        )

    def __len__(self) -> int:
        return int(self.arm.size)

    @property
    def arms(self) -> list[str]:
        return sorted({str(a) for a in self.arm})

    @property
    def days(self) -> list[int]:
        return sorted({int(d) for d in self.day})

    def values(self, dimension: str) -> list[str]:
        return sorted({str(v) for v in self.segment_values[dimension]})

    def mask(
        self,
        *,
        arm: str | None = None,
        dimension: str | None = None,
        value: str | None = None,
        max_day: int | None = None,
    ) -> NDArray[np.bool_]:
        keep = np.ones(len(self), dtype=bool)
        if arm is not None:
            keep &= self.arm == arm
        if dimension is not None:
            keep &= self.segment_values[dimension] == value
        if max_day is not None:
            keep &= self.day <= max_day
        return keep

    def total(self, keep: NDArray[np.bool_]) -> dict[str, float]:
        """Every column summed over the selected rows."""
        return {name: float(col[keep].sum()) for name, col in self.columns.items()}


def metric_stats(
    totals: Mapping[str, float],
    metric: MetricDef,
    where: tuple[int, int | None],
    *,
    cuped: bool = False,
) -> Stats:
    """The stats dataclass of ``metric`` from summed columns.

    With ``cuped``, a conversion, count or revenue metric comes back as :class:`CupedStats` (the
    covariate is the same measure before exposure); decide it once for all arms, with
    :func:`has_covariate` on the pooled totals.
    """
    num, den = where
    n = int(totals["n"])

    def g(name: str) -> float:
        return totals.get(name, 0.0)

    if den is not None:
        return RatioStats(
            n, g(f"m{num}_sum"), g(f"m{num}_sq"), g(f"m{den}_sum"), g(f"m{den}_sq"),
            g(f"m{num}_m{den}"),
        )  # fmt: skip
    covariate = CupedStats(
        n, g(f"m{num}_sum"), g(f"m{num}_sq"), g(f"c{num}_sum"), g(f"c{num}_sq"),
        g(f"m{num}_c{num}"),
    )  # fmt: skip
    if cuped:
        return covariate
    if metric.measure.kind == "conversion":
        return ProportionStats(n, round(g(f"m{num}_sum")))
    return covariate.metric


def has_covariate(totals: Mapping[str, float], where: tuple[int, int | None]) -> bool:
    """Whether the pre-exposure covariate of a non-ratio metric varies (so CUPED can help)."""
    num, den = where
    if den is not None:
        return False
    n, s, sq = totals["n"], totals.get(f"c{num}_sum", 0.0), totals.get(f"c{num}_sq", 0.0)
    return MeanStats(int(n), s, sq).variance > 0
