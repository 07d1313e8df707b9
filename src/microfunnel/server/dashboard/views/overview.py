"""Overview: each key micro-conversion's weekly rate and change, active alerts, live experiments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from microfunnel.analytics.alerts import DropAlert
from microfunnel.analytics.trends import Trend, trend
from microfunnel.server.dashboard.views.charts import spark

__all__ = ["KEY_EVENTS", "KeyRate", "key_events", "overview"]

KEY_EVENTS = (
    "view_item",
    "size_guide_open",
    "review_read",
    "add_to_cart",
    "begin_checkout",
    "add_shipping_info",
    "add_payment_info",
    "purchase",
)
"""The micro-conversions the overview follows, in funnel order (those the project has)."""
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


def key_events(store: Any) -> list[str]:
    known = set(store.event_names())
    return [e for e in KEY_EVENTS if e in known]


def overview(store: Any, *, tz: str = "UTC") -> dict[str, Any]:
    """Weekly rates (the latest 7 days against the 7 before) and drop alerts per key event."""
    rates: list[KeyRate] = []
    alerts: list[ActiveAlert] = []
    for event in key_events(store):
        t = trend(store, event, interval="week", tz=tz, compare_days=7)
        rates.append(KeyRate(event, t, spark([p.rate for p in t.points])))
        horizon = t.end - timedelta(days=ACTIVE_DAYS)
        alerts.extend(ActiveAlert(event, a) for a in t.alerts if a.detected > horizon)
    alerts.sort(key=lambda a: (a.alert.detected, a.event), reverse=True)
    return {"rates": rates, "alerts": alerts, "active_days": ACTIVE_DAYS}
