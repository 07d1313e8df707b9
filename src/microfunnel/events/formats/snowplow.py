"""Snowplow tracker protocol: ``POST /com.snowplowanalytics.snowplow/tp2`` and ``GET /i``.

POST bodies are ``{"schema": "iglu:.../payload_data/jsonschema/1-0-x", "data": [event, ...]}``;
a GET carries one event in the query string (the body is empty). Every field is a string.

=== ============================================================================================
e   Event
=== ============================================================================================
pv  ``page_view``; ``page`` (the title) becomes ``properties.page_title``
pp  ``page_ping``; ``pp_mix``/``pp_max``/``pp_miy``/``pp_may`` as integer properties
se  the action ``se_ac`` in snake_case; ``category``/``action``/``label``/``property``/``value``
ue  the name in the inner schema (``iglu:com.example.shop/add_to_cart/jsonschema/1-0-0`` →
    ``add_to_cart``), not renamed; its ``data`` are the properties
=== ============================================================================================

The self-describing event is ``ue_px`` (URL-safe base64, padding optional) or ``ue_pr`` (plain
JSON); context entities likewise ``cx`` or ``co``. Entities are kept as ``context["entities"]``
(``[{"schema", "data"}]``); when ``url`` is missing, an entity's ``data.url`` is the page URL.

Ids: ``eid`` event, ``uid`` user, ``duid`` (else ``nuid``) anonymous, ``sid`` session. Times:
``dtm`` (device clock) is corrected by ``stm`` (sent, same clock), as Snowplow derives
``derived_tstamp``; ``ttm`` (a true timestamp the application supplied) is taken as is, like
Snowplow does. ``aid`` becomes ``context["app_id"]``.
"""

from __future__ import annotations

import base64
import binascii
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
from microfunnel.events.formats.context import (
    device_from_user_agent,
    normalize_device,
    snake_case,
    text,
    url_context,
)
from microfunnel.events.model import Event

__all__ = ["decode"]

SOURCE = "snowplow"
_TRACKERS = {"py": "snowplow-python-tracker", "js": "snowplow-javascript-tracker"}
_PINGS = ("pp_mix", "pp_max", "pp_miy", "pp_may")
_STRUCTURED = {"se_ca": "category", "se_ac": "action", "se_la": "label", "se_pr": "property"}


class _Payload(msgspec.Struct):
    data: list[dict[str, Any]]
    schema: Any = None


def decode(
    body: bytes,
    *,
    content_type: str | None,
    query: Mapping[str, str],
    received_at: datetime,
) -> DecodedBatch:
    """Decode a Snowplow POST payload, or a GET ``/i`` query when the body is empty."""
    body = sniff_decompress(body)
    items: list[Any]
    if not body.strip():
        if "e" not in query:
            raise DecodeError(
                "no event: POST a payload_data JSON body, or GET /i with `e` in the query",
                field="body",
            )
        items = [dict(query)]
    else:
        try:
            payload = msgspec.json.decode(body, type=_Payload)
            items, schema = payload.data, payload.schema
        except (msgspec.DecodeError, UnicodeDecodeError):
            root = require_object(decode_json(body), 'payload_data: {"schema": ..., "data": [...]}')
            if "data" not in root:
                raise DecodeError(
                    "body is missing `data`, the list of events", field="data"
                ) from None
            items, schema = require_list(root, "data", "events"), root.get("schema")
        if schema is not None and (not isinstance(schema, str) or "/payload_data/" not in schema):
            raise DecodeError(
                f"`schema` must be a payload_data schema, got {schema!r}", field="schema"
            )
    out = Collector(SOURCE, key=None, sent_at=None, received_at=received_at, list_key="data")
    first_sent: datetime | None = None
    for index, item in enumerate(items):
        event, reasons, sent_at = _to_event(item)
        first_sent = first_sent or sent_at
        out.add(index, item, event, reasons)
    # Each event carries its own stm; set only now so no event without one inherits it.
    out.batch.sent_at = first_sent
    return out.batch


def _to_event(item: Any) -> tuple[Event | None, list[str], datetime | None]:
    """The event or the reasons it cannot be one, and its sent time (``stm``)."""
    if not isinstance(item, dict):
        return None, [f"an event must be a JSON object, got {kind(item)}"], None
    reasons: list[str] = []
    entities = _entities(item, reasons)
    name, properties = _name_and_properties(item, reasons)
    times: dict[str, datetime] = {}
    for field in ("dtm", "ttm", "stm"):
        value = item.get(field)
        if value is not None and value != "":
            try:
                times[field] = parse_epoch(value)
            except ValueError as exc:
                reasons.append(f"`{field}` is not a time: {exc}")
    sent_at = times.get("stm")
    if reasons or name is None:
        return None, reasons, sent_at
    true_time = times.get("ttm")
    event = Event(
        event=name,
        event_id=text(item.get("eid")) or "",
        user_id=text(item.get("uid")),
        anonymous_id=text(item.get("duid")) or text(item.get("nuid")),
        session_id=text(item.get("sid")),
        timestamp=true_time or times.get("dtm"),
        # A true timestamp did not come from the device clock: no sent time, no skew correction.
        sent_at=None if true_time else sent_at,
        properties=properties,
        context=_context(item, entities),
    )
    return event, [], sent_at


def _name_and_properties(item: dict[str, Any], reasons: list[str]) -> tuple[str | None, Any]:
    kind_of = item.get("e")
    if kind_of == "pv":
        title = text(item.get("page"))
        return "page_view", {"page_title": title} if title else {}
    if kind_of == "pp":
        return "page_ping", {k: _number(item[k]) for k in _PINGS if k in item}
    if kind_of == "se":
        action = item.get("se_ac")
        name = snake_case(action) if isinstance(action, str) else ""
        if not name or not item.get("se_ca"):
            reasons.append("a structured event (e=se) needs `se_ca` and `se_ac`")
            return None, None
        properties = {ours: item[theirs] for theirs, ours in _STRUCTURED.items() if theirs in item}
        if "se_va" in item:
            properties["value"] = _number(item["se_va"])
        return name, properties
    if kind_of == "ue":
        return _self_describing(item, reasons)
    reasons.append(f"`e` must be pv, pp, se or ue, got {kind_of!r}")
    return None, None


def _self_describing(item: dict[str, Any], reasons: list[str]) -> tuple[str | None, Any]:
    envelope = _json_field(item, "ue_px", "ue_pr", reasons)
    inner = envelope.get("data") if isinstance(envelope, dict) else None
    if not isinstance(inner, dict):
        if envelope is not None:
            reasons.append('`ue_px`/`ue_pr` must hold {"schema", "data": {"schema", "data"}}')
        elif not reasons:
            reasons.append("a self-describing event (e=ue) needs `ue_px` or `ue_pr`")
        return None, None
    schema, data = inner.get("schema"), inner.get("data")
    name = _schema_name(schema)
    if name is None:
        reasons.append(
            f"the event schema must look like iglu:vendor/name/jsonschema/1-0-0, got {schema!r}"
        )
    if not isinstance(data, dict):
        reasons.append(f"the event's `data` must be an object, got {kind(data)}")
    return (name, data) if name and isinstance(data, dict) else (None, None)


def _schema_name(schema: Any) -> str | None:
    if not isinstance(schema, str) or not schema.startswith("iglu:"):
        return None
    parts = schema[5:].split("/")
    return parts[1] if len(parts) == 4 and parts[1] else None


def _entities(item: dict[str, Any], reasons: list[str]) -> list[dict[str, Any]]:
    envelope = _json_field(item, "cx", "co", reasons)
    if envelope is None:
        return []
    data = envelope.get("data") if isinstance(envelope, dict) else None
    if not isinstance(data, list):
        reasons.append('`cx`/`co` must hold {"schema", "data": [entity, ...]}')
        return []
    return [e for e in data if isinstance(e, dict)]


def _json_field(item: dict[str, Any], encoded: str, plain: str, reasons: list[str]) -> Any:
    """The JSON in ``item[encoded]`` (URL-safe base64) or ``item[plain]``; None when absent."""
    if encoded in item:
        value = item[encoded]
        try:
            if not isinstance(value, str):
                raise ValueError("not a string")
            raw = value.strip().replace("+", "-").replace("/", "_")
            return msgspec.json.decode(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        except (ValueError, binascii.Error, msgspec.DecodeError) as exc:
            reasons.append(f"`{encoded}` is not base64-encoded JSON: {exc}")
            return None
    if plain in item:
        value = item[plain]
        try:
            return msgspec.json.decode(value) if isinstance(value, str | bytes) else value
        except msgspec.DecodeError as exc:
            reasons.append(f"`{plain}` is not JSON: {exc}")
    return None


def _number(value: Any) -> Any:
    """Tracker-protocol numbers arrive as strings: "1.5" → 1.5, "3" → 3; others stay."""
    if isinstance(value, str):
        try:
            return int(value) if value.lstrip("-").isdigit() else float(value)
        except ValueError:
            return value
    return value


def _context(item: dict[str, Any], entities: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    url = item.get("url")
    if not isinstance(url, str) or not url:
        urls = (e["data"].get("url") for e in entities if isinstance(e.get("data"), dict))
        url = next((u for u in urls if isinstance(u, str) and u), None)
    if url:
        out.update(url_context(url))
    for ours, theirs in (
        ("referrer", "refr"),
        ("user_agent", "ua"),
        ("ip", "ip"),
        ("app_id", "aid"),
    ):
        value = text(item.get(theirs))
        if value:
            out[ours] = value
    tracker = text(item.get("tv"))
    if tracker:
        prefix, _, version = tracker.partition("-")
        name = _TRACKERS.get(prefix, f"snowplow-{prefix}")
        out["library"] = {"name": name, "version": version} if version else {"name": name}
    platform = item.get("p")
    user_agent = out.get("user_agent")
    if platform == "mob":
        out["device"] = "mobile"
    elif user_agent:
        out["device"] = device_from_user_agent(user_agent)
    elif normalize_device(platform):
        out["device"] = normalize_device(platform)
    if entities:
        out["entities"] = entities
    return out
