"""The Jinja2 environment of the dashboard and the report: templates, number filters, assets."""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from functools import cache
from importlib.resources import files
from typing import Any

import jinja2
import markupsafe

from microfunnel.analytics.quality import delay_words

__all__ = ["STATIC", "asset_text", "environment", "render"]

HERE = files("microfunnel.server.dashboard")
STATIC = HERE / "static"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def pct(value: Any, digits: int = 1) -> str:
    """``0.1234 -> '12.3 %'``."""
    return "–" if _missing(value) else f"{value * 100:.{digits}f} %"


def signed_pct(value: Any, digits: int = 1) -> str:
    """``0.05 -> '+5.0 %'`` (a relative change)."""
    return "–" if _missing(value) else f"{value * 100:+.{digits}f} %"


def pp(value: Any, digits: int = 1) -> str:
    """An absolute change in rates, in percentage points."""
    return "–" if _missing(value) else f"{value * 100:+.{digits}f} pp"


def num(value: Any, digits: int = 0) -> str:
    """``12345.6 -> '12,346'``."""
    return "–" if _missing(value) else f"{value:,.{digits}f}"


def pvalue(value: Any) -> str:
    if _missing(value):
        return "–"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return "–" if value is None else str(value)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def chart_json(spec: Any) -> markupsafe.Markup:
    """A chart spec as HTML-safe JSON; infinities and NaN become null (JSON has neither)."""
    text = json.dumps(_finite(spec), allow_nan=False, separators=(",", ":"))
    return markupsafe.Markup(htmlsafe(text))


def htmlsafe(text: str) -> str:
    return (
        text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
        .replace("'", "\\u0027")
    )  # fmt: skip


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        chart_json=chart_json, pct=pct, signed_pct=signed_pct, pp=pp, num=num, pvalue=pvalue,
        when=when, delay=delay_words,
    )  # fmt: skip
    env.globals["asset_text"] = asset_text
    return env


def asset_text(name: str) -> str:
    """A static file's text (the report inlines CSS and JS)."""
    return (STATIC / name).read_text(encoding="utf-8")


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
