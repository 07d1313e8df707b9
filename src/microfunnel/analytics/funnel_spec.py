"""The words a funnel question is asked in (steps, exclusions, breakdowns) and their checks.

Turning them into a :class:`~microfunnel.query.funnel.FunnelSpec` validates everything a store
can tell us about: event names (with the closest known names suggested), property names,
windows, time ranges.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from microfunnel.errors import QueryError
from microfunnel.hints import close_names
from microfunnel.query.conditions import LIFTED, Filter, Match, check_name
from microfunnel.query.segments import Attribution, SegmentSpec
from microfunnel.store.base import Store

__all__ = [
    "Behaviour",
    "Breakdown",
    "Exclude",
    "Step",
    "breakdown_from_json",
    "parse_window",
    "step_from_json",
    "to_utc",
]

_OPS = {"eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "is_set"}


@dataclass(frozen=True)
class Step:
    """A funnel step: an event (or any of several) with optional property filters.

    ``where`` maps a property to a value (equality), a list (any of) or ``(op, value)`` with op
    in eq, ne, in, not_in, gt, gte, lt, lte, contains, is_set. ``window`` bounds the time from
    the previous step; an ``optional`` step may be skipped.

    >>> Step("add_to_cart", where={"device": "mobile"}).name
    'add_to_cart'
    """

    event: str | Sequence[str]
    where: Mapping[str, Any] = field(default_factory=dict)
    window: timedelta | None = None
    optional: bool = False
    label: str | None = None

    @property
    def events(self) -> tuple[str, ...]:
        return (self.event,) if isinstance(self.event, str) else tuple(self.event)

    @property
    def name(self) -> str:
        return self.label or " | ".join(self.events)

    def matches(self) -> tuple[Match, ...]:
        filters = tuple(_filter(k, v) for k, v in self.where.items())
        return tuple(Match(e, filters) for e in self.events)


@dataclass(frozen=True)
class Exclude:
    """Drop a chain when ``event`` happens after step ``after`` and before step ``before``
    (default: anywhere between the first and the last step)."""

    event: str
    where: Mapping[str, Any] = field(default_factory=dict)
    after: int = 0
    before: int | None = None


@dataclass(frozen=True)
class Breakdown:
    """Break a funnel down by a property of the attributed step's event.

    ``by``: a lifted column (``device``, ``utm_source``, ``value``...), an event property
    (``cart_id`` or ``properties.cart_id``), ``context.<key>``, or ``returning`` (new vs
    returning). ``bands`` cut a number into ranges; ``attribution`` is ``first``, ``last`` or a
    step index; segments beyond the ``top`` largest become ``Other``.
    """

    by: str
    attribution: Attribution = "first"
    top: int | None = 10
    bands: Sequence[float] = ()


@dataclass(frozen=True)
class Behaviour:
    """A behavioural segment: persons who did ``event`` at least ``min_count`` times (or on
    ``min_count`` distinct values of ``distinct``) in the analysed range are ``yes``.

    >>> Behaviour("compared_products", "view_item", min_count=2, distinct="item_id").min_count
    2
    """

    name: str
    event: str
    where: Mapping[str, Any] = field(default_factory=dict)
    min_count: int = 2
    distinct: str | None = None


def _filter(prop: str, spec: Any) -> Filter:
    if isinstance(spec, tuple) and len(spec) == 2 and spec[0] in _OPS:
        return Filter(prop, spec[0], spec[1])
    if isinstance(spec, (list, set, frozenset)):
        return Filter(prop, "in", list(spec))
    return Filter(prop, "eq", spec)


def to_utc(value: datetime | date | None, tz: str) -> datetime | None:
    """A bound of a time range as naive UTC; dates and naive times are local to ``tz``."""
    if value is None:
        return None
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise QueryError(
            f"unknown time zone {tz!r}: use an IANA name such as 'Europe/Paris'"
        ) from exc
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0))
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


class Checker:
    """Checks names against what the store holds (one query for event names, one per property)."""

    def __init__(self, store: Store):
        self.store = store
        self._names: list[str] | None = None

    def event(self, name: str) -> None:
        if self._names is None:
            self._names = self.store.event_names()
        if name not in self._names:
            close = close_names(name, self._names, cutoff=0.5)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            known = ", ".join(self._names[:12]) or "none yet"
            raise QueryError(
                f"unknown event {name!r}: no such event in this project.{hint} "
                f"Known events: {known}.",
                field="event",
            )

    def prop(self, name: str, events: Sequence[str] = ()) -> None:
        if name in {"returning"}:
            return
        key = name.removeprefix("context.").removeprefix("properties.")
        check_name(key)
        if name in LIFTED:
            return
        column = "context" if name.startswith("context.") else "properties"
        text = self.store.dialect.json_text(column, key)
        where = f"{text} IS NOT NULL"
        params: list[Any] = []
        if events:
            where += " AND event IN (" + ", ".join("?" for _ in events) + ")"
            params = list(events)
        found = self.store.query(f"SELECT 1 FROM events WHERE {where} LIMIT 1", params)
        if found.num_rows == 0:
            on = f" on {', '.join(events)}" if events else ""
            raise QueryError(
                f"unknown property {name!r}: no event{on} carries it. Check the spelling, use a "
                f"lifted column ({', '.join(LIFTED[:6])}, ...) or 'context.<key>' for context.",
                field="property",
            )


def segment_spec(
    breakdown: Breakdown | Behaviour, checker: Checker, start: datetime | None, end: datetime | None
) -> SegmentSpec:
    if isinstance(breakdown, Behaviour):
        checker.event(breakdown.event)
        if breakdown.min_count < 1:
            raise QueryError("a behaviour needs min_count >= 1")
        if breakdown.distinct:
            checker.prop(breakdown.distinct, [breakdown.event])
        for prop in breakdown.where:
            checker.prop(prop, [breakdown.event])
        match = Match(breakdown.event, tuple(_filter(k, v) for k, v in breakdown.where.items()))
        return SegmentSpec(
            kind="behaviour",
            matches=(match,),
            min_count=breakdown.min_count,
            distinct=breakdown.distinct,
            start=start,
            end=end,
        )
    checker.prop(breakdown.by)
    if breakdown.top is not None and breakdown.top < 1:
        raise QueryError("top must be at least 1 (or None for every segment)")
    bands = tuple(float(b) for b in breakdown.bands)
    if list(bands) != sorted(set(bands)):
        raise QueryError("bands must be increasing numbers, e.g. [50, 100, 200]")
    return SegmentSpec(
        kind="returning" if breakdown.by == "returning" else "property",
        prop=None if breakdown.by == "returning" else breakdown.by,
        bands=bands,
        attribution=breakdown.attribution,
        top_n=breakdown.top,
    )


def check_steps(steps: Sequence[Step], checker: Checker) -> None:
    if len(steps) < 2:
        raise QueryError(
            f"a funnel needs at least two steps, got {len(steps)}: add the step people should "
            "reach (for one event alone, count it with a trend instead)",
            field="steps",
        )
    for step in steps:
        for event in step.events:
            checker.event(event)
        for prop in step.where:
            checker.prop(prop, step.events)
        if step.window is not None and step.window <= timedelta(0):
            raise QueryError(f"the window of step {step.name!r} must be positive", field="window")
    if steps[0].optional or steps[-1].optional:
        raise QueryError("the first and the last step cannot be optional", field="steps")


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_window(text: str | float | int) -> timedelta:
    """A window as ``90s``, ``30m``, ``24h``, ``7d``, ``2w`` or a number of seconds.

    >>> parse_window("24h"), parse_window(90)
    (datetime.timedelta(days=1), datetime.timedelta(seconds=90))
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return timedelta(seconds=float(text))
    raw = str(text).strip().lower()
    unit = _UNITS.get(raw[-1:]) if raw else None
    number = raw[:-1] if unit else raw
    try:
        value = float(number)
    except ValueError:
        raise QueryError(
            f"window {text!r} is not a duration: write e.g. 30m, 24h or 7d", field="window"
        ) from None
    return timedelta(seconds=value * (unit or 1))


def step_from_json(item: str | Mapping[str, Any]) -> Step:
    """A step from its JSON form: an event name, or ``{"event": ..., "where": {...},
    "window": "1h", "optional": false, "label": ...}`` (``event`` may be a list)."""
    if isinstance(item, str):
        return Step(item)
    if not isinstance(item, Mapping) or "event" not in item:
        raise QueryError(f"a step is an event name or an object with `event`, got {item!r}")
    where = {
        k: tuple(v) if isinstance(v, list) and len(v) == 2 and v[0] in _OPS else v
        for k, v in dict(item.get("where") or {}).items()
    }
    window = item.get("window")
    return Step(
        event=item["event"] if isinstance(item["event"], str) else tuple(item["event"]),
        where=where,
        window=None if window is None else parse_window(window),
        optional=bool(item.get("optional", False)),
        label=item.get("label"),
    )


def breakdown_from_json(item: str | Mapping[str, Any] | None) -> Breakdown | Behaviour | None:
    """A breakdown from its JSON form: a property name, ``{"by": ..., "attribution": ...,
    "top": ..., "bands": [...]}`` or a behaviour ``{"behaviour": name, "event": ...,
    "min_count": 2}``."""
    if item is None or item == "":
        return None
    if isinstance(item, str):
        return Breakdown(item)
    if "behaviour" in item:
        return Behaviour(
            str(item["behaviour"]),
            str(item.get("event", "")),
            where=dict(item.get("where") or {}),
            min_count=int(item.get("min_count", 2)),
            distinct=item.get("distinct"),
        )
    if "by" not in item:
        raise QueryError("a breakdown needs `by` (a property) or `behaviour`", field="breakdown")
    return Breakdown(
        by=str(item["by"]),
        attribution=item.get("attribution", "first"),
        top=item.get("top", 10),
        bands=tuple(item.get("bands") or ()),
    )
