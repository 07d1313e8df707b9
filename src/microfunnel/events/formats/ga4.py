"""GA4 Measurement Protocol: ``POST /mp/collect?measurement_id=...&api_secret=...``.

The body is ``{"client_id" | "app_instance_id", "user_id"?, "timestamp_micros"?,
"user_properties"?, "consent"?, "ip_override"?, "user_location"?, "device"?, "events": [{"name",
"params", "timestamp_micros"?}]}``, at most 25 events. The key is ``api_secret`` from the query;
the stream (``measurement_id`` or ``firebase_app_id``) becomes ``context["app_id"]``.

Names and params are GA4's, which is our vocabulary: they are kept. ``params.page_location`` and
``page_referrer`` move to the context, ``params.session_id`` becomes the session id;
``user_properties`` (``{"tier": {"value": "gold"}}``) join each event's properties as
``user_properties: {"tier": "gold"}``.

GA4 sends no event id, so one is derived: a hash of client id, event time, name, params and the
event's position, so a resent request dedupes. A request without ``timestamp_micros`` cannot be
told from a new one by content alone (ga4mp sends none and never retries), so its receive time
goes into the hash instead: two identical clicks are two events. GA4 has no send time: times are
not skew-corrected.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

from microfunnel.errors import DecodeError
from microfunnel.events.formats.common import (
    Collector,
    DecodedBatch,
    decode_json,
    kind,
    parse_epoch,
    require_list,
    require_object,
    sniff_decompress,
)
from microfunnel.events.formats.context import normalize_device, text, url_context
from microfunnel.events.model import Event

__all__ = ["MAX_EVENTS", "decode"]

SOURCE = "ga4"
MAX_EVENTS = 25  # Google's limit per request
_TO_CONTEXT = {"page_location": "page_url", "page_referrer": "referrer"}
_CONSENT = ("ad_user_data", "ad_personalization")


def decode(
    body: bytes,
    *,
    content_type: str | None,
    query: Mapping[str, str],
    received_at: datetime,
) -> DecodedBatch:
    """Decode a Measurement Protocol request (body and query) into Events."""
    root = require_object(
        decode_json(sniff_decompress(body)), 'Measurement Protocol: {"events": [...]}'
    )
    if "events" not in root:
        raise DecodeError("body is missing `events`, the list of events", field="events")
    items = require_list(root, "events", "events")
    if len(items) > MAX_EVENTS:
        raise DecodeError(
            f"`events` has {len(items)} events; the Measurement Protocol allows at most "
            f"{MAX_EVENTS} per request: split it",
            field="events",
        )
    request_time = _micros(root.get("timestamp_micros"), "timestamp_micros")
    client_id = text(root.get("client_id")) or text(root.get("app_instance_id"))
    shared = _shared_context(root, query)
    user_properties = _user_properties(root.get("user_properties"))
    key = text(query.get("api_secret")) or shared.get("app_id")
    out = Collector(SOURCE, key=key, sent_at=None, received_at=received_at)
    salt = "" if request_time is not None else received_at.isoformat()
    for index, item in enumerate(items):
        event, reasons = _to_event(item, client_id, request_time)
        if event is not None:
            event.user_id = text(root.get("user_id"))
            event.event_id = _event_id(client_id, event, item, index, salt)
            event.context = {**shared, **event.context}
            if user_properties:
                event.properties["user_properties"] = user_properties
        out.add(index, item, event, reasons)
    return out.batch


def _micros(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_epoch(value, unit=1e-6)
    except ValueError:
        raise DecodeError(
            f"`{field}` must be microseconds since the epoch, got {value!r}", field=field
        ) from None


def _to_event(
    item: Any, client_id: str | None, request_time: datetime | None
) -> tuple[Event | None, list[str]]:
    if not isinstance(item, dict):
        return None, [f"an event must be a JSON object, got {kind(item)}"]
    reasons = []
    if client_id is None:
        reasons.append("the request has no `client_id` or `app_instance_id`")
    name: Any = item.get("name")
    if not isinstance(name, str) or not name:
        reasons.append(f"`name` must be a non-empty string, got {kind(name)}")
    params = item.get("params", {})
    if not isinstance(params, dict):
        reasons.append(f"`params` must be an object, got {kind(params)}")
    timestamp = request_time
    if item.get("timestamp_micros") is not None:
        try:
            timestamp = parse_epoch(item["timestamp_micros"], unit=1e-6)
        except ValueError:
            reasons.append(
                f"`timestamp_micros` must be microseconds, got {item['timestamp_micros']!r}"
            )
    if reasons:
        return None, reasons
    properties = dict(params)
    context: dict[str, Any] = {}
    for theirs, ours in _TO_CONTEXT.items():
        value = properties.pop(theirs, None)
        if isinstance(value, str) and value:
            context[ours] = value
    if "page_url" in context:
        context.update(url_context(context["page_url"]))
    return Event(
        event=name,
        anonymous_id=client_id,
        session_id=text(properties.pop("session_id", None)),
        timestamp=timestamp,
        properties=properties,
        context=context,
    ), []


def _event_id(client_id: str | None, event: Event, item: Any, index: int, salt: str) -> str:
    """A stable id from what was sent: the same request sent again gives the same ids."""
    stamp = event.timestamp.isoformat() if event.timestamp else salt
    material = msgspec.json.encode([client_id, stamp, item, index], order="sorted")
    return str(uuid.UUID(bytes=hashlib.blake2b(material, digest_size=16).digest()))


def _user_properties(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {}
    return {
        k: v.get("value") if isinstance(v, dict) else v for k, v in value.items() if v is not None
    }


def _shared_context(root: dict[str, Any], query: Mapping[str, str]) -> dict[str, Any]:
    """Request-level context: stream, ip, device, location, consent."""
    out: dict[str, Any] = {}
    stream = text(query.get("measurement_id")) or text(query.get("firebase_app_id"))
    if stream:
        out["app_id"] = stream
    ip = text(root.get("ip_override"))
    if ip:
        out["ip"] = ip
    device = root.get("device")
    if isinstance(device, dict):
        category = normalize_device(device.get("category"))
        if category:
            out["device"] = category
        details = {k: v for k, v in device.items() if k != "category"}
        if details:
            out["device_info"] = details
    location = root.get("user_location")
    if isinstance(location, dict) and location:
        out["location"] = location
    consent = root.get("consent")
    if isinstance(consent, dict):
        flags = {k: consent[k] == "GRANTED" for k in _CONSENT if isinstance(consent.get(k), str)}
        if flags:
            out["consent"] = flags
    return out
