"""PostHog capture: v0 ``/batch/``, ``/capture/``, ``/e/`` and v1 ``/i/v1/analytics/events``.

Shapes accepted: ``{"batch": [...], "api_key", "sent_at"}`` (v0), ``{"batch": [...],
"created_at"}`` (v1), one event ``{"event", "distinct_id", "properties", "api_key"}``, or a list of
events (posthog-js). The write key is ``api_key`` in the body, else ``token``/``$token`` in the
properties; v1 sends it only as a Bearer header.

Ids. PostHog has one id, ``distinct_id``. Our rule, in order:

1. ``$anon_distinct_id`` in the properties (``$identify`` and server SDKs that pass it): the
   ``distinct_id`` is the known user and ``$anon_distinct_id`` the device.
2. ``$device_id`` present and different from ``distinct_id`` (posthog-js after identify): the
   ``distinct_id`` is the user and ``$device_id`` the device.
3. ``$identify`` without either: ``distinct_id`` is the user, no device id.
4. Otherwise the ``distinct_id`` is anonymous (posthog-js uses a random device id until identify).

Names: ``$pageview`` → ``page_view``, ``$screen`` → ``screen_view``, ``$create_alias`` →
``$alias`` (``properties.previous_id`` is ``alias``); ``$identify`` keeps its name, with the
person properties of ``$set_once`` and ``$set`` as its properties. Other names are kept.

Properties: keys the SDK adds about itself (``$lib``, ``$lib_version``, ``$geoip_disable``,
``$is_server``, ``$python_*``, the server's ``$os*``) are dropped; URL, user agent, ip, session,
referrer and device keys move into ``context``; everything else is kept as sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import msgspec

from microfunnel.errors import DecodeError
from microfunnel.events.formats.common import (
    Collector,
    DecodedBatch,
    decode_json,
    kind,
    parse_time,
    require_list,
    require_object,
    sniff_decompress,
    time_or_reason,
)
from microfunnel.events.formats.context import library, normalize_device, text, url_context
from microfunnel.events.model import Event

__all__ = ["decode"]

SOURCE = "posthog"
_NAMES = {"$pageview": "page_view", "$screen": "screen_view", "$create_alias": "$alias"}
_INTERNAL = frozenset(
    {
        "$lib",
        "$lib_version",
        "$lib_version__major",
        "$lib_version__minor",
        "$lib_version__patch",
        "$geoip_disable",
        "$is_server",
        "$python_runtime",
        "$python_version",
        "$anon_distinct_id",
        "$device_id",
        "$insert_id",
        "$time",
        "$token",
        "token",
    }
)
_SERVER_OS = ("$os", "$os_version", "$os_distro")
_TO_CONTEXT = {
    "$current_url": "page_url",
    "$pathname": "page_path",
    "$referrer": "referrer",
    "$raw_user_agent": "user_agent",
    "$user_agent": "user_agent",
    "$ip": "ip",
    "$session_id": "session_id",
}


_Ids = tuple[str | None, str | None]  # (user_id, anonymous_id)


class _Capture(msgspec.Struct):
    event: Any = None
    distinct_id: Any = None
    properties: Any = None
    timestamp: Any = None
    offset: Any = None
    uuid: Any = None
    api_key: Any = None


class _Batch(msgspec.Struct):
    batch: list[_Capture]
    api_key: Any = None
    sent_at: Any = None
    created_at: Any = None


def decode(
    body: bytes,
    *,
    content_type: str | None,
    query: Mapping[str, str],
    received_at: datetime,
) -> DecodedBatch:
    """Decode a PostHog v0 or v1 capture request into Events (see the module docstring)."""
    body = sniff_decompress(body)
    try:
        envelope = msgspec.json.decode(body, type=_Batch)
        items: list[Any] = envelope.batch
        key, sent_raw = envelope.api_key, envelope.sent_at or envelope.created_at
    except (msgspec.DecodeError, UnicodeDecodeError):
        root = decode_json(body)
        if isinstance(root, list):
            items, key, sent_raw = root, None, None
        else:
            root = require_object(root, 'an event, a list of events, or {"batch": [...]}')
            items = require_list(root, "batch", "events") if "batch" in root else [root]
            key, sent_raw = root.get("api_key"), root.get("sent_at") or root.get("created_at")
    try:
        sent_at = parse_time(sent_raw)
    except ValueError as exc:
        raise DecodeError(f"`sent_at` is not a time: {exc}", field="sent_at") from None
    out = Collector(
        SOURCE,
        key=None,
        sent_at=sent_at,
        received_at=received_at,
        body=body,
    )
    for index, item in enumerate(items):
        event, reasons, item_key = _to_event(item, sent_at or received_at)
        key = key or item_key
        out.add(index, item, event, reasons)
    out.batch.key = text(key)
    return out.batch


def _to_event(item: Any, sent_at: datetime) -> tuple[Event | None, list[str], Any]:
    if isinstance(item, dict):
        item = msgspec.convert(item, _Capture)
    if not isinstance(item, _Capture):
        return None, [f"an event must be a JSON object, got {kind(item)}"], None
    reasons: list[str] = []
    name = item.event
    if not isinstance(name, str) or not name:
        reasons.append(f"`event` must be a non-empty string, got {kind(name)}")
    distinct_id = text(item.distinct_id)
    if distinct_id is None:
        reasons.append(f"`distinct_id` must be a non-empty string, got {kind(item.distinct_id)}")
    props = item.properties
    if props is None:
        props = {}
    elif not isinstance(props, dict):
        reasons.append(f"`properties` must be an object, got {kind(props)}")
        props = {}
    timestamp = time_or_reason(item.timestamp, "timestamp", reasons)
    offset = item.offset
    if timestamp is None and type(offset) is int and abs(offset) < 2**40:
        try:  # posthog-js: milliseconds before sending (or before arriving, with no sent_at)
            timestamp = sent_at - timedelta(milliseconds=offset)
        except OverflowError:
            reasons.append(f"`offset` {offset} puts the event before the year 1")
    key = item.api_key or props.get("token") or props.get("$token")
    if reasons:
        return None, reasons, key
    name = _NAMES.get(name, name)
    user_id, anonymous_id = _ids(name, distinct_id, props)
    context = _context(props)
    if name == "$identify":
        properties = {**_dict(props.get("$set_once")), **_dict(props.get("$set"))}
    elif name == "$alias":
        properties = {"previous_id": text(props.get("alias"))}
    else:
        properties = _properties(props)
    event = Event(
        event=name,
        event_id=text(item.uuid) or "",
        user_id=user_id,
        anonymous_id=anonymous_id,
        session_id=text(context.pop("session_id", None)),
        timestamp=timestamp,
        properties=properties,
        context=context,
    )
    return event, [], key


def _ids(
    name: str, distinct_id: str | None, props: dict[str, Any]
) -> tuple[str | None, str | None]:
    """(user_id, anonymous_id) by the rule in the module docstring."""
    anon = text(props.get("$anon_distinct_id"))
    if anon is not None and anon != distinct_id:
        return distinct_id, anon
    device = text(props.get("$device_id"))
    if device is not None and device != distinct_id:
        return distinct_id, device
    if name == "$identify":
        return distinct_id, None
    return None, distinct_id


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _properties(props: dict[str, Any]) -> dict[str, Any]:
    """The user's properties: SDK-internal keys dropped, context keys moved out."""
    server = props.get("$is_server") is True or props.get("$lib") == "posthog-python"
    return {
        k: v
        for k, v in props.items()
        if not (k in _INTERNAL or k in _TO_CONTEXT or k == "$device_type")
        and not (server and k in _SERVER_OS)
    }


def _context(props: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    url = props.get("$current_url")
    if isinstance(url, str) and url:
        out.update(url_context(url))
    for theirs, ours in _TO_CONTEXT.items():
        value = props.get(theirs)
        if value is not None and value != "" and ours not in out:
            out[ours] = value
    for utm in ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"):
        value = props.get(utm)
        if isinstance(value, str) and value:
            out[utm] = value
    found = library(props.get("$lib"), props.get("$lib_version"))
    if found:
        out["library"] = found
    device = normalize_device(props.get("$device_type"))
    if device:
        out["device"] = device
    return out
