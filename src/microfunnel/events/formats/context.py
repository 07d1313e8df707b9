"""Building an Event's ``context`` from what clients send: page URL, UTM tags, device, library.

>>> url_context("https://shop.example.com/p/sku-123?utm_source=newsletter")["utm_source"]
'newsletter'
>>> device_from_user_agent("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)")
'mobile'
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "device_from_user_agent",
    "library",
    "normalize_device",
    "snake_case",
    "text",
    "url_context",
]

_TABLET = re.compile(r"iPad|Tablet|Kindle|Silk|PlayBook|Nexus (?:7|9|10)\b", re.IGNORECASE)
_MOBILE = re.compile(r"Mobi|iPhone|iPod|Android|Windows Phone|BlackBerry|Opera Mini", re.IGNORECASE)
_ANDROID_PHONE = re.compile(r"Android.*Mobile", re.IGNORECASE)
_DEVICE_WORDS = {
    "mobile": "mobile",
    "phone": "mobile",
    "smartphone": "mobile",
    "mob": "mobile",  # Snowplow platform
    "tablet": "tablet",
    "desktop": "desktop",
    "computer": "desktop",
    "web": "desktop",
    "pc": "desktop",
}


def text(value: Any) -> str | None:
    """An id as a string: strings stay, numbers become digits, anything else or empty is None."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


@lru_cache(maxsize=4096)
def url_context(url: str) -> dict[str, str]:
    """``page_url``, ``page_path`` and every ``utm_*`` tag of a page URL (cached: pages repeat).

    Callers copy the result before changing it.
    """
    out = {"page_url": url}
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced "[" in the host
        return out
    if parts.path:
        out["page_path"] = parts.path
    if "utm_" in parts.query:
        for key, value in parse_qsl(parts.query):
            if key.startswith("utm_") and value:
                out.setdefault(key, value)
    return out


@lru_cache(maxsize=1024)
def device_from_user_agent(user_agent: str) -> str:
    """mobile, tablet or desktop from a user agent: a small rule, enough for funnel breakdowns."""
    if _TABLET.search(user_agent):
        return "tablet"
    if _MOBILE.search(user_agent):
        # Android tablets leave "Mobile" out of their UA.
        if "android" in user_agent.lower() and not _ANDROID_PHONE.search(user_agent):
            return "tablet"
        return "mobile"
    return "desktop"


def normalize_device(value: Any) -> str | None:
    """An explicit device field (``mobile``, ``Tablet``, ``smartphone``, ``pc``) in our words."""
    if isinstance(value, str):
        return _DEVICE_WORDS.get(value.strip().lower())
    return None


def library(name: Any, version: Any = None) -> dict[str, str] | None:
    """``{"name", "version"}`` from SDK fields; None when the name is missing."""
    lib_name = text(name)
    if lib_name is None:
        return None
    lib_version = text(version)
    return {"name": lib_name, "version": lib_version} if lib_version else {"name": lib_name}


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD = re.compile(r"[^0-9a-zA-Z]+")


def snake_case(name: str) -> str:
    """``Add To Cart``, ``addToCart`` and ``add-to-cart`` all become ``add_to_cart``."""
    return _NON_WORD.sub("_", _CAMEL.sub("_", name)).strip("_").lower()
