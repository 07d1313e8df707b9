"""Dashboard pages under ``/``: each route parses its query, calls one view, renders a template.

Views call the analytics library; results are cached per project until new data arrives
(:mod:`microfunnel.server.dashboard.cache`). A question the library cannot answer (an unknown
event, a bad window) renders the page with the library's message instead of a result.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from microfunnel.analytics.scope import last_local_day
from microfunnel.config import split_names
from microfunnel.errors import InputError, QueryError
from microfunnel.query.scope import EventScope
from microfunnel.server.dashboard import auth
from microfunnel.server.dashboard.cache import Cached, ResultCache, data_version
from microfunnel.server.dashboard.render import STATIC, render
from microfunnel.server.dashboard.views import data, experiments, explore, insights, overview
from microfunnel.server.dashboard.views import funnel as funnel_view
from microfunnel.server.runtime import Runtime

__all__ = ["CACHE", "NAV", "router"]

router = APIRouter(include_in_schema=False)
CACHE = ResultCache()

NAV = (
    ("/", "Overview"),
    ("/funnel", "Funnel"),
    ("/trends", "Trends"),
    ("/paths", "Paths"),
    ("/retention", "Retention"),
    ("/drivers", "Drivers"),
    ("/forecast", "Forecast"),
    ("/experiments", "Experiments"),
    ("/data", "Data"),
)
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
DEVICES = ("desktop", "mobile", "tablet")


def _shared(runtime: Runtime, version: tuple[Hashable, ...], *, wait: bool) -> dict[str, Any]:
    """What every page's controls need: the project's event names and its last day of data."""

    def build() -> dict[str, Any]:
        names = [n for n in runtime.store.event_names() if not n.startswith("$")]
        try:
            through: date | None = last_local_day(runtime.store, "UTC", EventScope())
        except QueryError:
            through = None
        return {"event_names": names, "data_through": through}

    return CACHE.lookup(version, ("shared",), build, wait=wait).value


def _stamps(folder: Path, names: Sequence[str]) -> tuple[int, ...]:
    return tuple((folder / n).stat().st_mtime_ns if (folder / n).exists() else 0 for n in names)


EXPERIMENT_FILES = ("experiments.yaml", "hypotheses.yaml", "decisions.jsonl")


def freshness(cached: Cached[Any], request: Request) -> dict[str, Any]:
    """What the page says about its result's age: fresh, or stale and being refreshed (with a
    link to the same page that waits for the result on the current data)."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "fresh"]
    return {
        "wait_query": urlencode([*params, ("fresh", "1")]),
        "age": round(cached.age()),
        "fresh": cached.fresh,
        "refreshing": cached.refreshing,
        "interval": round(CACHE.min_interval),
    }


def page(
    request: Request,
    template: str,
    *,
    active: str,
    title: str,
    key: Hashable,
    build: Callable[[Runtime], dict[str, Any]],
    form: dict[str, Any] | None = None,
    files: Sequence[str] = (),
) -> Response:
    """Render ``template`` with the cached result of ``build``; ``files`` of the project folder
    the result also reads (experiments.yaml, ...) are part of its key, so editing one shows."""
    runtime = auth.page_runtime(request)
    if isinstance(runtime, RedirectResponse):
        return runtime
    if files:
        key = (key, _stamps(runtime.project.path, files))
    version = data_version(runtime)
    wait = request.query_params.get("fresh") == "1"
    shared = _shared(runtime, version, wait=wait)
    context: dict[str, Any] = {
        "title": title,
        "nav": NAV,
        "active": active,
        "standalone": False,
        "project_name": runtime.name,
        "error": None,
        "ok": False,
        "form": form or {},
        "devices": DEVICES,
        "plan_events": runtime.plan.event_names,
        "freshness": None,
        **shared,
    }
    status = 200
    if shared["data_through"] is None:
        context["error"] = "No events yet: send events to the collector, then reload this page."
    else:
        try:
            cached = CACHE.lookup(version, key, lambda: build(runtime), wait=wait)
            context.update(cached.value)
            context["ok"] = True
            context["freshness"] = freshness(cached, request)
        except InputError as exc:
            context["error"], status = exc.message, exc.status
    return HTMLResponse(render(template, **context), status_code=status)


# ---- assets and login ---------------------------------------------------------------------


@router.get("/static/{name}")
def static(name: str) -> Response:
    path = STATIC / name
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    if "/" in name or suffix not in STATIC_TYPES or not path.is_file():
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(
        str(path), media_type=STATIC_TYPES[suffix], headers={"Cache-Control": "max-age=300"}
    )


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = Query("/", max_length=2000)) -> Response:
    html = render(
        "login.html", title="Sign in", nav=(), active="", standalone=False, project_name="",
        error=None, next=auth.safe_next(next), data_through=None,
    )  # fmt: skip
    return HTMLResponse(html)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await auth.read_form(request)
    key, target = form.get("key", "").strip(), auth.safe_next(form.get("next"))
    if key and request.app.state.hub.by_secret(key) is not None:
        response = RedirectResponse(target, status_code=303)
        auth.set_key_cookie(response, request, key)
        return response
    error = (
        "That is a write key: it can only send events. Use a secret key."
        if key and request.app.state.hub.by_write_key(key)
        else "Unknown key: check the secret key (`microfunnel keys list` shows their prefixes)."
    )
    html = render(
        "login.html", title="Sign in", nav=(), active="", standalone=False, project_name="",
        error=error, next=target, data_through=None,
    )  # fmt: skip
    return HTMLResponse(html, status_code=403)


@router.get("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.COOKIE, path="/")
    return response


# ---- pages --------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request, event: list[str] = Query([], max_length=40)) -> Response:
    chosen = [e for e in event if e]
    return page(
        request, "overview.html", active="/", title="Overview", key=("overview", tuple(chosen)),
        form={"events": chosen}, files=EXPERIMENT_FILES[:1],
        build=lambda rt: {
            **overview.overview(
                rt.store, events=chosen or split_names(rt.project.settings.key_events)
            ),
            "experiments": experiments.running(rt),
        },
    )  # fmt: skip


@router.get("/funnel", response_class=HTMLResponse)
def funnel(
    request: Request,
    step: list[str] = Query([], max_length=20),
    mode: Literal["ordered", "strict", "any"] = Query("ordered"),
    window: float = Query(24.0, gt=0, le=24 * 90),
    breakdown: str = Query("device", max_length=100),
) -> Response:
    steps = [s for s in step if s] or list(funnel_view.DEFAULT_STEPS)
    form = {
        "steps": steps, "mode": mode, "window": window, "breakdown": breakdown,
        "modes": funnel_view.MODES, "breakdowns": funnel_view.BREAKDOWNS,
    }  # fmt: skip
    return page(
        request, "funnel.html", active="/funnel", title="Funnel", form=form,
        key=("funnel", tuple(steps), mode, window, breakdown),
        build=lambda rt: funnel_view.funnel_page(
            rt.store, steps, mode=mode, window_hours=window, breakdown=breakdown
        ),
    )  # fmt: skip


@router.get("/trends", response_class=HTMLResponse)
def trends(
    request: Request,
    event: str = Query("add_to_cart", max_length=200),
    among: str = Query("", max_length=200),
    device: str = Query("", max_length=40),
) -> Response:
    where = {"device": device} if device else None
    form = {"event": event, "among": among, "device": device}
    return page(
        request, "trends.html", active="/trends", title="Trends", form=form,
        key=("trends", event, among, device),
        build=lambda rt: explore.trends_page(rt.store, event, among=among or None, where=where),
    )  # fmt: skip


@router.get("/paths", response_class=HTMLResponse)
def paths(
    request: Request,
    anchor: str = Query("add_shipping_info", max_length=200),
    direction: Literal["next", "previous"] = Query("next"),
    depth: int = Query(3, ge=1, le=6),
) -> Response:
    form = {"anchor": anchor, "direction": direction, "depth": depth}
    return page(
        request, "paths.html", active="/paths", title="Paths", form=form,
        key=("paths", anchor, direction, depth),
        build=lambda rt: explore.paths_page(rt.store, anchor, direction=direction, depth=depth),
    )  # fmt: skip


@router.get("/retention", response_class=HTMLResponse)
def retention(
    request: Request,
    event: str = Query("purchase", max_length=200),
    weeks: int = Query(6, ge=1, le=52),
) -> Response:
    form = {"event": event, "weeks": weeks}
    return page(
        request, "retention.html", active="/retention", title="Retention", form=form,
        key=("retention", event, weeks),
        build=lambda rt: explore.retention_page(rt.store, event=event or None, weeks=weeks),
    )  # fmt: skip


@router.get("/drivers", response_class=HTMLResponse)
def drivers(request: Request, macro: str = Query("purchase", max_length=200)) -> Response:
    return page(
        request, "drivers.html", active="/drivers", title="Drivers", form={"macro": macro},
        key=("drivers", macro), build=lambda rt: insights.drivers_page(rt.store, macro),
    )  # fmt: skip


@router.get("/forecast", response_class=HTMLResponse)
def forecast(request: Request) -> Response:
    steps = list(funnel_view.DEFAULT_STEPS)
    rates: dict[str, float] = {}
    for name in steps[1:]:
        raw = request.query_params.get(name)
        if raw:
            try:
                rates[name] = float(raw)
            except ValueError:
                rates[name] = -1.0  # the library rejects it with a message
    return page(
        request, "forecast.html", active="/forecast", title="Forecast", form=rates,
        key=("forecast", tuple(sorted(rates.items()))),
        build=lambda rt: insights.forecast_page(rt.store, steps, rates),
    )  # fmt: skip


@router.get("/experiments", response_class=HTMLResponse)
def experiments_list(request: Request, rank: Literal["pxl", "ice"] = Query("pxl")) -> Response:
    return page(
        request, "experiments.html", active="/experiments", title="Experiments",
        key=("experiments", rank), build=lambda rt: experiments.listing(rt, rank=rank),
        files=EXPERIMENT_FILES,
    )  # fmt: skip


@router.get("/experiments/{key}", response_class=HTMLResponse)
def experiment_report(request: Request, key: str) -> Response:
    return page(
        request, "experiment.html", active="/experiments", title=f"Experiment {key}",
        key=("experiment", key), build=lambda rt: experiments.report_page(rt, key),
        files=EXPERIMENT_FILES[:1],
    )  # fmt: skip


@router.get("/data", response_class=HTMLResponse)
def data_view(request: Request) -> Response:
    return page(
        request, "data.html", active="/data", title="Data", key=("data",), build=data.data_page
    )
