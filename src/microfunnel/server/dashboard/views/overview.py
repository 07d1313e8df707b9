"""Overview: each key micro-conversion's weekly rate and change, active alerts, live experiments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from microfunnel.analytics.alerts import DropAlert
from microfunnel.analytics.trends import Trend, trends
from microfunnel.server.dashboard.views.charts import spark

__all__ = ["ECOMMERCE_STEPS", "KeyRate", "key_events", "overview"]

ECOMMERCE_STEPS = (
    "view_item",
    "add_to_cart",
    "begin_checkout",
    "add_shipping_info",
    "add_payment_info",
    "purchase",
)
"""The GA4 e-commerce steps, in funnel order: the default key events (those the project has)."""
ACTIVE_DAYS = 14
"""An alert detected within this many days of the latest data is shown as active."""


@dataclass(frozen=True)
class KeyRate:
    event: str
    trend: Trend
    spark: dict[str, Any]


@dataclass(frozen=True)
class ActiveAlert:
    event: str
    alert: DropAlert


def key_events(event_names: Sequence[str], chosen: Sequence[str] = ()) -> list[str]:
    """The events the overview follows: those chosen (``?event=`` on the page), else the GA4
    e-commerce steps the project has, in funnel order."""
    known = set(event_names)
    if chosen:
        return list(dict.fromkeys(chosen))
    return [e for e in ECOMMERCE_STEPS if e in known]


def overview(store: Any, *, events: Sequence[str] = (), tz: str = "UTC") -> dict[str, Any]:
    """Weekly rates (the latest 7 days against the 7 before) and drop alerts per key event,
    from one scan of the data for all of them."""
    rates: list[KeyRate] = []
    alerts: list[ActiveAlert] = []
    names = store.event_names()
    followed = key_events(names, events)
    found = trends(store, followed, interval="week", tz=tz, compare_days=7) if followed else {}
    for event, t in found.items():
        rates.append(KeyRate(event, t, spark([p.rate for p in t.points])))
        horizon = t.end - timedelta(days=ACTIVE_DAYS)
        alerts.extend(ActiveAlert(event, a) for a in t.alerts if a.detected > horizon)
    alerts.sort(key=lambda a: (a.alert.detected, a.event), reverse=True)
    return {
        "rates": rates, "alerts": alerts, "active_days": ACTIVE_DAYS, "key_events": followed,
        "chosen": list(events),
    }  # fmt: skip
