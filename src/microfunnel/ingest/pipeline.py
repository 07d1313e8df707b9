"""Ingestion: decoded events -> privacy -> validation -> spool (durable) -> 200.

Privacy runs before validation so that what the quarantine keeps is already scrubbed: a payload
that fails the plan still never puts an e-mail address into the store file.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from microfunnel.events.formats.common import DecodedBatch, Rejected
from microfunnel.events.model import Event, new_event_id, utcnow
from microfunnel.events.plan import TrackingPlan
from microfunnel.events.privacy import PrivacySettings, apply_privacy, scrub_text
from microfunnel.ingest.records import SpoolBatch, encode_batch
from microfunnel.ingest.spool import Spool
from microfunnel.store.base import QuarantineRecord

__all__ = ["IngestResult", "Ingestor", "RecentIds", "is_bot"]

_BOT_UA = re.compile(
    r"bot\b|crawler|spider|slurp|headless|phantomjs|curl/|wget/|python-requests|lighthouse|"
    r"pingdom|uptime|facebookexternalhit|preview",
    re.IGNORECASE,
)
IDENTITY_EVENTS = frozenset({"$identify", "$alias"})


def is_bot(user_agent: Any) -> bool:
    return isinstance(user_agent, str) and bool(_BOT_UA.search(user_agent))


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    quarantined: int
    duplicates: int

    def to_json(self) -> dict[str, int]:
        return {
            "accepted": self.accepted,
            "quarantined": self.quarantined,
            "duplicates": self.duplicates,
        }


class RecentIds:
    """A bounded memory of recently accepted event ids, to answer retries at once."""

    def __init__(self, capacity: int = 1_000_000):
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def seen(self, event_id: str) -> bool:
        with self._lock:
            return event_id in self._ids

    def add(self, ids: Iterable[str]) -> None:
        with self._lock:
            for event_id in ids:
                self._ids[event_id] = None
            while len(self._ids) > self.capacity:
                self._ids.popitem(last=False)


def _raw(item: Any) -> dict[str, Any]:
    if isinstance(item, Event):
        return msgspec.to_builtins(item)
    if isinstance(item, dict):
        return item
    return {"payload": item}


def _scrub_raw(raw: Any) -> Any:
    """Scrub PII from a raw payload kept in quarantine."""
    if isinstance(raw, str):
        return scrub_text(raw)
    if isinstance(raw, dict):
        return {k: _scrub_raw(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_scrub_raw(v) for v in raw]
    return raw


class Ingestor:
    """Turns decoded batches into durable spool records and counts the outcome."""

    def __init__(
        self,
        plan: TrackingPlan,
        privacy: PrivacySettings,
        spool: Spool,
        *,
        sessionize: Callable[[Event], None] | None = None,
        recent: RecentIds | None = None,
    ):
        self.plan = plan
        self.privacy = privacy
        self.spool = spool
        self.sessionize = sessionize
        self.recent = recent or RecentIds()

    def ingest(self, decoded: DecodedBatch) -> IngestResult:
        out = SpoolBatch()
        duplicates = 0
        in_request: set[str] = set()
        for event in decoded.events:
            if event.event_id in in_request or self.recent.seen(event.event_id):
                duplicates += 1
                continue
            in_request.add(event.event_id)
            self._one(event, out)
        received = utcnow()
        for rejected in decoded.rejected:
            out.quarantine.append(self._rejected(rejected, received))
        if out.events or out.quarantine or out.identities:
            self.spool.append(encode_batch(out))
        self.recent.add(e.event_id for e in out.events)
        self.recent.add(q.event_id for q in out.quarantine)
        return IngestResult(len(out.events), len(out.quarantine), duplicates)

    def _one(self, event: Event, out: SpoolBatch) -> None:
        event = apply_privacy(event, self.privacy)
        if is_bot(event.context.get("user_agent")):
            event.context["is_bot"] = True
        reasons = self.plan.validate(event)
        if reasons:
            out.quarantine.append(
                QuarantineRecord(
                    event_id=event.event_id,
                    event=event.event,
                    received_at=event.received_at or utcnow(),
                    reasons=reasons,
                    raw=_raw(event),
                    plan_version=self.plan.version,
                    anonymous_id=event.anonymous_id,
                    user_id=event.user_id,
                )
            )
            return
        event.plan_version = self.plan.version
        if event.session_id is None and self.sessionize is not None:
            self.sessionize(event)
        if event.event in IDENTITY_EVENTS:
            previous = event.properties.get("previous_id") or event.anonymous_id
            if isinstance(previous, str) and previous and event.user_id:
                out.identities.append((previous, event.user_id))
        out.events.append(event)

    def _rejected(self, rejected: Rejected, received: Any) -> QuarantineRecord:
        raw = _scrub_raw(_raw(rejected.item)) if self.privacy.scrub_pii else _raw(rejected.item)
        name = raw.get("event") if isinstance(raw, dict) else None
        event_id = raw.get("event_id") if isinstance(raw, dict) else None
        return QuarantineRecord(
            event_id=str(event_id or new_event_id()),
            event=name if isinstance(name, str) else None,
            received_at=received,
            reasons=list(rejected.reasons),
            raw=raw,
            plan_version=self.plan.version,
        )
