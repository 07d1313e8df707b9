"""A self-contained HTML report (inline CSS, JS and SVG): the overview, a funnel, an experiment.

It renders the dashboard's own views with the styles and the chart script inlined, so the file
opens anywhere, offline, and shows the same numbers as the pages.

Example::

    html = build_report(Path("demo-project"), experiment="free_shipping_banner")
    Path("report.html").write_text(html)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from microfunnel.analytics.scope import last_local_day
from microfunnel.config import Project
from microfunnel.errors import QueryError
from microfunnel.events.plan import TrackingPlan
from microfunnel.query.scope import EventScope
from microfunnel.server.dashboard.render import render
from microfunnel.server.dashboard.views import experiments, overview
from microfunnel.server.dashboard.views import funnel as funnel_view
from microfunnel.store.base import Store

__all__ = ["build_report", "report_from_store"]


@dataclass
class _Data:
    project: Project
    store: Store
    plan: TrackingPlan


def _first_running(data: _Data) -> str | None:
    live = experiments.running(data)
    return live[0].key if live else None


def report_from_store(
    project: Project,
    store: Store,
    *,
    experiment: str | None = None,
    steps: Sequence[str] | None = None,
    window_hours: float = 24.0,
    breakdown: str = "device",
) -> str:
    """The report's HTML from an open store (the first running experiment by default)."""
    data = _Data(project, store, TrackingPlan.load(project.plan_path))
    try:
        through = last_local_day(store, "UTC", EventScope())
    except QueryError:
        raise QueryError("the store has no events yet: nothing to report.") from None
    names = store.event_names()
    steps = list(steps or funnel_view.default_steps(names))
    key = experiment or _first_running(data)
    context: dict[str, Any] = {
        "title": f"{project.settings.name} report",
        "standalone": True,
        "nav": (),
        "active": "",
        "error": None,
        "project_name": project.settings.name,
        "data_through": through,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "overview": overview.overview(store),
        "funnel": funnel_view.funnel_page(
            store, steps, window_hours=window_hours, breakdown=breakdown
        ),
        "funnel_form": {"window": window_hours, "breakdown": breakdown},
        "experiment": experiments.report_page(data, key) if key else None,
    }
    return render("report.html", **context)


def build_report(folder: str | Path, **options: Any) -> str:
    """Open the project in ``folder`` and build its report (see :func:`report_from_store`)."""
    project = Project(folder)
    store = project.open_store()
    try:
        return report_from_store(project, store, **options)
    finally:
        store.close()
