"""Metric definitions: what an experiment measures on each unit after its first exposure.

A metric is built from *measures*, one number per unit computed from its events:

* ``conversion``: 1 if the unit did the event (all of ``events``, for a funnel step), else 0;
* ``count``: how many times it did the event;
* ``revenue``: the sum of the events' ``value``.

A metric is one measure (``conversion``, ``count``, ``revenue``), a ``ratio`` of two measures
summed over units (revenue per add-to-cart, delta method), or a ``funnel``: one ratio per step,
the units that reached step k among those that reached step k - 1.

In ``experiments.yaml``::

    metrics:
      revenue_per_visitor: {kind: revenue, event: purchase, cap: 0.99}
      checkout_error_rate: {kind: conversion, event: checkout_error, higher_is_better: false}
      items_per_cart: {kind: ratio, numerator: {kind: count, event: add_to_cart},
                       denominator: {kind: conversion, event: add_to_cart}}
      checkout_funnel: {kind: funnel, steps: [begin_checkout, add_payment_info, purchase]}

A bare event name (``primary: add_to_cart``) is the conversion metric of that event.

>>> m = parse_metric("rpv", {"kind": "revenue", "event": "purchase", "cap": 0.99})
>>> m.measure, m.cap
(Measure(kind='revenue', events=('purchase',)), 0.99)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from microfunnel.errors import DefinitionError
from microfunnel.hints import close_names

__all__ = ["Measure", "MeasureKind", "MetricDef", "MetricKind", "parse_metric"]

MeasureKind = Literal["conversion", "count", "revenue"]
MetricKind = Literal["conversion", "count", "revenue", "ratio", "funnel"]
_MEASURE_KINDS: tuple[MeasureKind, ...] = ("conversion", "count", "revenue")
_METRIC_KINDS: tuple[MetricKind, ...] = ("conversion", "count", "revenue", "ratio", "funnel")


@dataclass(frozen=True, slots=True)
class Measure:
    """One number per unit: a conversion flag, an event count or a revenue sum."""

    kind: MeasureKind
    events: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MetricDef:
    """A metric; ``denominator`` is set for ratio metrics (and each funnel step)."""

    key: str
    kind: MetricKind
    measure: Measure
    denominator: Measure | None = None
    steps: tuple[str, ...] = ()
    cap: float | None = None
    higher_is_better: bool = True
    description: str = ""

    @property
    def events(self) -> tuple[str, ...]:
        """Every event the metric reads."""
        out = list(self.measure.events) + list(self.steps)
        if self.denominator is not None:
            out += self.denominator.events
        return tuple(dict.fromkeys(out))

    def funnel_steps(self) -> tuple[MetricDef, ...]:
        """A funnel as one ratio metric per step (reached step k among those at step k - 1)."""
        if self.kind != "funnel":
            return (self,)
        out = []
        for k in range(1, len(self.steps)):
            out.append(
                MetricDef(
                    key=f"{self.key}:{self.steps[k - 1]}->{self.steps[k]}",
                    kind="ratio",
                    measure=Measure("conversion", self.steps[: k + 1]),
                    denominator=Measure("conversion", self.steps[:k]),
                    higher_is_better=self.higher_is_better,
                )
            )
        return tuple(out)


def closest(name: str, known: Collection[str]) -> str:
    """`` (did you mean `x`?)`` when a known name is close, else an empty string."""
    match = close_names(name, known, limit=1)
    return f" (did you mean `{match[0]}`?)" if match else ""


def _event(raw: Any, where: str, events: Collection[str] | None) -> str:
    if not isinstance(raw, str) or not raw:
        raise DefinitionError(f"{where} needs an `event` name, e.g. `event: add_to_cart`.")
    if events is not None and raw not in events:
        raise DefinitionError(
            f"{where} counts event `{raw}`, which the tracking plan does not define"
            f"{closest(raw, events)}: fix the event name, or add `{raw}` to tracking-plan.yaml.",
            field="event",
        )
    return raw


def _measure(raw: Any, where: str, events: Collection[str] | None) -> Measure:
    if not isinstance(raw, Mapping):
        raise DefinitionError(f"{where} must be an object like {{kind: count, event: purchase}}.")
    kind = raw.get("kind", "conversion")
    if kind not in _MEASURE_KINDS:
        raise DefinitionError(f"{where} has kind {kind!r}; use one of {', '.join(_MEASURE_KINDS)}.")
    return Measure(kind, (_event(raw.get("event"), where, events),))


def parse_metric(
    key: str, raw: Mapping[str, Any] | str, events: Collection[str] | None = None
) -> MetricDef:
    """A metric from its YAML form; ``events`` (the tracking plan's names) checks event names."""
    where = f"Metric `{key}`"
    if isinstance(raw, str):
        return MetricDef(key, "conversion", Measure("conversion", (_event(raw, where, events),)))
    if not isinstance(raw, Mapping):
        raise DefinitionError(f"{where} must be an object like {{kind: conversion, event: x}}.")
    kind = raw.get("kind", "conversion")
    if kind not in _METRIC_KINDS:
        raise DefinitionError(f"{where} has kind {kind!r}; use one of {', '.join(_METRIC_KINDS)}.")
    cap = raw.get("cap")
    if cap is not None and (
        isinstance(cap, bool) or not isinstance(cap, (int, float)) or not 0 < cap < 1
    ):
        raise DefinitionError(
            f"{where}: `cap` is the percentile each unit's value is capped at, a number "
            f"between 0 and 1 such as 0.99; got {cap!r}."
        )
    if kind == "ratio":
        numerator = _measure(raw.get("numerator"), f"{where} numerator", events)
        denominator = _measure(raw.get("denominator"), f"{where} denominator", events)
        metric = MetricDef(key, "ratio", numerator, denominator)
    elif kind == "funnel":
        steps = raw.get("steps")
        if not isinstance(steps, list) or len(steps) < 2:
            raise DefinitionError(f"{where}: a funnel needs `steps`, a list of 2 or more events.")
        names = tuple(_event(s, f"{where} step", events) for s in steps)
        metric = MetricDef(key, "funnel", Measure("conversion", names[-1:]), steps=names)
    else:
        metric = MetricDef(key, kind, Measure(kind, (_event(raw.get("event"), where, events),)))
    return replace(
        metric,
        cap=None if cap is None else float(cap),
        higher_is_better=bool(raw.get("higher_is_better", True)),
        description=str(raw.get("description", "")),
    )
