"""Data page: the tracking plan, quarantined events by problem and one by one, counts per event."""

from __future__ import annotations

from typing import Any

from microfunnel.server.dashboard.views.insights import quality_panel
from microfunnel.server.runtime import Runtime

__all__ = ["data_page"]

PROBLEMS = 20  # the largest problems shown; the rest wait for these to be fixed


def data_page(runtime: Runtime, *, limit: int = 200) -> dict[str, Any]:
    store, plan = runtime.store, runtime.plan
    quarantine = store.quarantine_rows(limit, pending_only=True, newest_first=True)
    problems = store.quarantine_problems(PROBLEMS)
    stored = set(store.event_names())
    events = [
        {
            "name": name,
            "description": plan.events[name].description,
            "count": store.count_events(name) if name in stored else 0,
        }
        for name in plan.event_names
    ]
    off_plan = sorted(stored - set(plan.events) - {"$identify"})
    return {
        "plan": plan,
        "plan_yaml": runtime.project.plan_path.read_text(encoding="utf-8"),
        "plan_events": events,
        "off_plan": off_plan,
        "quarantine": quarantine,
        "quarantine_pending": store.count_quarantined(),
        "problems": problems,
        "problems_limit": PROBLEMS,
        "total_events": store.count_events(),
        **quality_panel(store, plan.event_names),
    }
