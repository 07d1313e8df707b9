"""Where the funnel leaks, for whom: a segment x step drop-off matrix (a heatmap's data).

Each cell is the share of a segment's units at step ``k - 1`` that do not reach step ``k``. The
*worst* cell is the one losing the most units beyond what the funnel's overall rate at that step
would lose (``entered x (segment rate - overall rate)``): a big segment a little worse than usual
and a small one much worse are compared in the same currency, lost units.

Behavioural segments (:data:`BEHAVIOURS`) split persons by what they did, e.g. opened the size
guide or read reviews.

>>> BEHAVIOURS["size_guide"].event
'size_guide_open'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from microfunnel.analytics.funnel import FunnelResult, funnel, unit_plural
from microfunnel.analytics.funnel_spec import Behaviour, Breakdown, Step
from microfunnel.errors import QueryError
from microfunnel.store.base import Store

__all__ = ["BEHAVIOURS", "DropOffCell", "DropOffMatrix", "drop_off_matrix", "segment_by"]

BEHAVIOURS: dict[str, Behaviour] = {
    "size_guide": Behaviour("size_guide", "size_guide_open", min_count=1),
    "reviews": Behaviour("reviews", "review_read", min_count=1),
    "video": Behaviour("video", "video_play", min_count=1),
    "zoom": Behaviour("zoom", "image_zoom", min_count=1),
    "browser": Behaviour("browser", "view_item", min_count=3),
    "wishlist": Behaviour("wishlist", "wishlist_add", min_count=1),
}


def segment_by(
    by: str | None = None, behaviour: str | None = None, *, top: int | None = 10
) -> Breakdown | Behaviour | None:
    """A property breakdown (``by``) or a preset behaviour (``behaviour``), or neither."""
    if behaviour:
        if behaviour not in BEHAVIOURS:
            raise QueryError(
                f"unknown behaviour {behaviour!r}: use one of {', '.join(sorted(BEHAVIOURS))}",
                field="behaviour",
            )
        return BEHAVIOURS[behaviour]
    return Breakdown(by, top=top) if by else None


@dataclass(frozen=True)
class DropOffCell:
    segment: str
    step: str  # the step not reached
    entered: int  # units at the previous step
    reached: int
    drop_off: float | None  # None when no one entered
    excess_lost: float  # units lost beyond the overall rate at this step


@dataclass(frozen=True)
class DropOffMatrix:
    """Rows are segments (largest first), columns the steps after the first."""

    steps: tuple[str, ...]
    segments: tuple[str, ...]
    overall: tuple[float | None, ...]
    cells: tuple[tuple[DropOffCell, ...], ...]
    worst: DropOffCell | None
    sentence: str
    funnel: FunnelResult

    @property
    def rates(self) -> list[list[float | None]]:
        return [[c.drop_off for c in row] for row in self.cells]


def _rate(entered: int, reached: int) -> float | None:
    return None if entered == 0 else 1.0 - reached / entered


def drop_off_matrix(
    store: Store,
    steps: Sequence[Step],
    by: Breakdown | Behaviour | str,
    *,
    min_units: int = 30,
    **options: Any,
) -> DropOffMatrix:
    """Drop-off per segment and step; ``by`` is a breakdown, a behaviour, a property name or
    the name of a preset behaviour (:data:`BEHAVIOURS`). Cells with fewer than ``min_units``
    entrants never count as the worst. Options are those of
    :func:`~microfunnel.analytics.funnel.build_spec`."""
    if isinstance(by, str):
        by = BEHAVIOURS.get(by) or Breakdown(by)
    if min_units < 1:
        raise QueryError("min_units must be at least 1")
    result = funnel(store, steps, breakdown=by, **options)
    overall = tuple(
        _rate(result.steps[k - 1].count, result.steps[k].count) for k in range(1, len(steps))
    )
    cells = []
    for seg in result.segments:
        row = []
        for k in range(1, len(seg.steps)):
            entered, reached = seg.steps[k - 1].count, seg.steps[k].count
            rate = _rate(entered, reached)
            base = overall[k - 1] or 0.0
            excess = entered * ((rate or 0.0) - base)
            row.append(DropOffCell(seg.segment, seg.steps[k].name, entered, reached, rate, excess))
        cells.append(tuple(row))
    eligible = [c for row in cells for c in row if c.entered >= min_units and c.excess_lost > 0]
    worst = max(eligible, key=lambda c: c.excess_lost, default=None)
    if worst is None:
        sentence = "No segment loses noticeably more than the funnel as a whole at any step."
    else:
        k = [s.name for s in result.steps].index(worst.step)
        sentence = (
            f"{worst.segment} loses the most at {result.steps[k - 1].name} -> {worst.step}: "
            f"{worst.drop_off:.0%} drop off there against {overall[k - 1]:.0%} overall, about "
            f"{worst.excess_lost:,.0f} more {unit_plural(result.unit)} than the overall rate "
            "would lose."
        )
    return DropOffMatrix(
        steps=tuple(s.name for s in result.steps),
        segments=tuple(s.segment for s in result.segments),
        overall=overall,
        cells=tuple(cells),
        worst=worst,
        sentence=sentence,
        funnel=result,
    )
