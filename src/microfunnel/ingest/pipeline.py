"""Ingestion: decoded events -> privacy -> validation -> spool (durable) -> 200.

Privacy runs before validation so that what the quarantine keeps is already scrubbed: a payload
that fails the plan still never puts an e-mail address into the store file.
"""

from __future__ import annotations

import asyncio
import re
import threading
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
    if not isinstance(user_agent, str):
        return False
    known = _bot_answers.get(user_agent)
    if known is None:
        if len(_bot_answers) >= 10_000:
            _bot_answers.clear()
        known = _bot_answers[user_agent] = _BOT_UA.search(user_agent) is not None
    return known


# A shop sees a few hundred user agents, each on thousands of events: answer each once.
_bot_answers: dict[str, bool] = {}
# Properties known good (see _KnownGood), by their msgpack encoding: unlike JSON's, it tells
# an int from a float and NaN from null.
_pack = msgspec.msgpack.Encoder().encode


class _KnownGood:
    """(event name, encoded properties) that scrubbing left as they were and the plan accepted.

    Shops send the same properties over and over (a product's view_item, a page's page_view),
    so most events skip both walks for one encoding and one set lookup. Only properties as a
    JSON decoder made them are looked up (``DecodedBatch.plain_properties``): a tuple and a
    list encode alike, and only a list is walked. A new plan starts afresh; so does a full
    memory. When fewer than one in ten properties repeat (every purchase has its own
    transaction id), the encodings cost more than they save: the lookups rest for a while.
    """

    MAX = 50_000
    TRIAL = 10_000  # events, between checks of how many repeat
    REST = 100_000  # events prepared without lookups after a poor trial

    def __init__(self) -> None:
        self.keys: set[tuple[str, bytes]] = set()
        self.plan: TrackingPlan | None = None
        self.tried = self.hits = self.resting = 0

    def for_batch(self, plan: TrackingPlan, size: int) -> set[tuple[str, bytes]] | None:
        """The known keys for a batch of ``size`` events, or None while resting."""
        if self.resting > 0:
            self.resting -= size
            return None
        if self.plan is not plan:
            self.keys, self.plan = set(), plan
            self.tried = self.hits = 0
        return self.keys

    def remember(self, key: tuple[str, bytes]) -> None:
        if len(self.keys) >= self.MAX:
            self.keys.clear()
        self.keys.add(key)

    def count(self, tried: int, hits: int) -> None:
        self.tried += tried
        self.hits += hits
        if self.tried >= self.TRIAL:
            if self.hits * 10 < self.tried:
                self.resting = self.REST
            self.tried = self.hits = 0


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
    """A bounded memory of recently accepted event ids, to answer retries at once.

    Two generations of sets: ids go into the current one; when it holds ``capacity / 2`` ids it
    becomes the previous one (the one before is forgotten) and a new current one starts. An id
    is remembered while it is in either, so at least the ``capacity / 2`` most recent ids are
    remembered, and at most about ``capacity``. Every operation on a batch is a set operation
    in C (an update, an intersection), not a step per id.

    >>> recent = RecentIds(capacity=4)
    >>> recent.add(["a", "b"]); recent.add(["c", "d"])
    >>> recent.seen("a"), recent.seen("d"), recent.count_seen(["b", "c", "x"])
    (False, True, 1)
    """

    def __init__(self, capacity: int = 1_000_000):
        self.capacity = capacity
        self._half = max(capacity // 2, 1)
        self._current: set[str] = set()
        self._previous: set[str] = set()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._current | self._previous)

    def seen(self, event_id: str) -> bool:
        with self._lock:
            return event_id in self._current or event_id in self._previous

    def count_seen(self, event_ids: Iterable[str]) -> int:
        """How many of ``event_ids`` are remembered (one lock for them all)."""
        ids = event_ids if isinstance(event_ids, list) else list(event_ids)
        unique = set(ids)
        with self._lock:
            current, previous = self._current, self._previous
            if len(unique) == len(ids):  # the usual case: count by intersections, in C
                found = unique & current
                if previous:
                    found |= unique & previous
                return len(found)
            return sum(1 for i in ids if i in current or i in previous)

    def fresh(self, events: list[Event]) -> tuple[list[Event], int]:
        """The events whose id is neither remembered nor repeated earlier in ``events``, and
        how many were left out (one lock for the whole batch)."""
        ids = [event.event_id for event in events]
        in_request = set(ids)
        with self._lock:
            current, previous = self._current, self._previous
            if (
                len(in_request) == len(ids)
                and in_request.isdisjoint(current)
                and in_request.isdisjoint(previous)
            ):
                return list(events), 0  # the usual batch: nothing to leave out
            in_request = set()
            out: list[Event] = []
            for event in events:
                event_id = event.event_id
                if event_id in in_request or event_id in current or event_id in previous:
                    continue
                in_request.add(event_id)
                out.append(event)
        return out, len(events) - len(out)

    def add(self, ids: Iterable[str]) -> None:
        if self.capacity <= 0:  # remembers nothing
            return
        with self._lock:
            self._current.update(ids)
            if len(self._current) >= self._half:
                self._previous, self._current = self._current, set()


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


@dataclass(frozen=True, slots=True)
class _Work:
    """A prepared batch: what to spool (None: nothing) and how many were duplicates."""

    batch: SpoolBatch
    payload: bytes | None
    duplicates: int


class Ingestor:
    """Turns decoded batches into durable spool records and counts the outcome."""

    def __init__(
        self,
        plan: TrackingPlan,
        privacy: PrivacySettings,
        spool: Spool | None,
        *,
        sessionize: Callable[[list[Event]], None] | None = None,
        recent: RecentIds | None = None,
    ):
        self.plan = plan
        self.privacy = privacy
        self.spool = spool
        self.sessionize = sessionize
        self.recent = recent or RecentIds()
        self._known_good = _KnownGood()

    def ingest(self, decoded: DecodedBatch) -> IngestResult:
        """Run a decoded batch through the pipeline; returns once it is durable (fsync'd)."""
        work = self.prepare(decoded)
        if work.payload is not None:
            self._spool().append(work.payload, carry=work.batch)
        return self._done(work)

    async def ingest_async(self, decoded: DecodedBatch, *, inline_events: int = 0) -> IngestResult:
        """``ingest`` for an event loop: the answer waits for the fsync without holding a thread.

        Batches of up to ``inline_events`` events are prepared on the loop itself (a thread
        hand-off costs more than they do); larger ones in a worker thread.
        """
        if len(decoded) <= inline_events:
            work = self.prepare(decoded)
        else:
            work = await asyncio.to_thread(self.prepare, decoded)
        if work.payload is not None:
            await self._spool().append_async(work.payload, carry=work.batch)
        return self._done(work)

    def _spool(self) -> Spool:
        if self.spool is None:  # a preparation worker's ingestor: the server spools
            raise RuntimeError("this ingestor only prepares batches; it has no spool")
        return self.spool

    def prepare(self, decoded: DecodedBatch) -> _Work:
        """Privacy, bot flag and plan for each new event, encoded as one spool record.

        The work per event is straight-line calls; every lock (recent ids, sessions) is taken
        once per batch.
        """
        out = SpoolBatch()
        events, duplicates = self.recent.fresh(decoded.events)
        plan, privacy = self.plan, self.privacy
        predicates, version = plan.predicates, plan.version
        accepted, quarantine = out.events, out.quarantine
        bots = _bot_answers
        known_good = self._known_good
        good = None
        if decoded.plain_properties and privacy.scrub_pii:
            good = known_good.for_batch(plan, len(events))
        tried = hits = 0
        for event in events:
            properties = event.properties
            key = None
            known = False
            if good is not None and "previous_id" not in properties:
                key = (event.event, _pack(properties))
                known = key in good
                tried += 1
                hits += known
            event = apply_privacy(event, privacy, clean_properties=known)
            context = event.context
            user_agent = context.get("user_agent")
            if isinstance(user_agent, str):  # is_bot, its cache looked up here
                bot = bots.get(user_agent)
                if bot or (bot is None and is_bot(user_agent)):
                    context["is_bot"] = True
            if not known:
                ok = predicates.get(event.event)
                if ok is None or not ok(event.properties):  # plan.validate, inlined
                    reasons = plan.reasons(event)
                    if reasons:
                        quarantine.append(self._quarantined(event, reasons, version))
                        continue
                elif key is not None and event.properties is properties:  # nothing scrubbed
                    known_good.remember(key)
            event.plan_version = version
            if event.event in IDENTITY_EVENTS:
                self._identity(event, out)
            accepted.append(event)
        if tried:
            known_good.count(tried, hits)
        if self.sessionize is not None and accepted:
            self.sessionize(accepted)
        received = utcnow()
        for rejected in decoded.rejected:
            quarantine.append(self._rejected(rejected, received))
        payload = encode_batch(out) if accepted or quarantine or out.identities else None
        return _Work(out, payload, duplicates)

    def _done(self, work: _Work) -> IngestResult:
        """Once durable: remember the ids, so retries are answered as duplicates at once."""
        accepted, quarantine = work.batch.events, work.batch.quarantine
        self.recent.add([e.event_id for e in accepted] + [q.event_id for q in quarantine])
        return IngestResult(len(accepted), len(quarantine), work.duplicates)

    @staticmethod
    def _quarantined(event: Event, reasons: list[str], version: int) -> QuarantineRecord:
        return QuarantineRecord(
            event_id=event.event_id,
            event=event.event,
            received_at=event.received_at or utcnow(),
            reasons=reasons,
            raw=_raw(event),
            plan_version=version,
            anonymous_id=event.anonymous_id,
            user_id=event.user_id,
        )

    @staticmethod
    def _identity(event: Event, out: SpoolBatch) -> None:
        previous = event.properties.get("previous_id") or event.anonymous_id
        if isinstance(previous, str) and previous and event.user_id:
            out.identities.append((previous, event.user_id))

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
