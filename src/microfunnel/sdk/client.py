"""The Python tracker: queue events in memory, send them in batches from a background thread.

``track`` never waits for the network: it validates the event, gives it its id (kept across
retries, so the collector's dedupe makes retries harmless) and puts it on a bounded queue. A
worker thread sends a batch when ``flush_at`` events are waiting or ``flush_interval`` seconds
after the first one arrived. Nothing is lost silently: an event that cannot be queued or
delivered is counted in ``client.dropped`` (by reason in ``client.drop_reasons``) and logged.

>>> from microfunnel.sdk import Client, MockSink
>>> sink = MockSink()
>>> with Client("wk_test", "http://collector", transport=sink) as client:
...     _ = client.identify("user-42", {"plan": "pro"}, anonymous_id="anon-1")
...     _ = client.track("add_to_cart", {"value": 19.99, "currency": "EUR"}, user_id="user-42")
>>> [(e["event"], e["user_id"]) for e in sink.events]
[('$identify', 'user-42'), ('add_to_cart', 'user-42')]
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypedDict, Unpack
from urllib.parse import parse_qsl, urlsplit

import httpx
import msgspec

from microfunnel import __version__
from microfunnel.errors import ConfigError, InputError
from microfunnel.events.model import Event, as_utc, new_event_id, utcnow
from microfunnel.experiments.features import FeatureResult
from microfunnel.sdk.flags import Exposure, Flags
from microfunnel.sdk.transport import Outcome, RetryPolicy, Sender, retryable

__all__ = ["Client", "EventFields"]

logger = logging.getLogger("microfunnel.sdk")

LIBRARY = {"name": "microfunnel-python", "version": __version__}
MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 512 * 1024
_IDENTIFIERS = ("anonymous_id", "user_id", "session_id")


class _Fields(TypedDict, total=False):
    anonymous_id: str | None
    session_id: str | None
    timestamp: datetime | None
    context: Mapping[str, Any] | None
    event_id: str | None


class EventFields(_Fields, total=False):
    """Keyword arguments every tracking call takes."""

    user_id: str | None


class Client:
    """Sends events to one microfunnel collector with one write key.

    ``transport`` replaces the network (an ``httpx`` transport such as
    :class:`~microfunnel.sdk.MockSink`); ``consent=False`` starts in cookieless mode (see
    :meth:`set_consent`); ``retry`` tunes the backoff; ``flags_interval`` is how often the
    feature payload is refreshed once flags are used.
    """

    def __init__(
        self,
        write_key: str,
        host: str,
        *,
        flush_at: int = 100,
        flush_interval: float = 0.5,
        max_queue: int = 10000,
        max_retries: int = 8,
        gzip: bool = True,
        consent: bool = True,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 10.0,
        flags_interval: float = 30.0,
    ) -> None:
        _check_settings(write_key, host, flush_at, flush_interval, max_queue, max_retries)
        self.write_key = write_key
        self.host = host.rstrip("/")
        self.flush_at = flush_at
        self.flush_interval = flush_interval
        self.max_queue = max_queue
        self.dropped = 0
        self.drop_reasons: Counter[str] = Counter()
        self.delivered = 0
        self.quarantined = 0
        self.last_error = ""
        self._consent = consent
        self._queue: deque[tuple[int, dict[str, Any]]] = deque()
        self._inflight: list[dict[str, Any]] = []
        self._flushing = False
        self._closed = False
        self._cv = threading.Condition()
        self._abort = threading.Event()
        self._http = httpx.Client(base_url=self.host, transport=transport, timeout=timeout)
        self._sender = Sender(
            self._http,
            write_key,
            max_retries=max_retries,
            compress=gzip,
            policy=retry or RetryPolicy(),
            lock=self._cv,
            abort=self._abort,
            user_agent=f"microfunnel-python/{__version__}",
        )
        self.flags = Flags(self._http, write_key, interval=flags_interval, on_exposure=self._expose)
        self._worker = threading.Thread(target=self._run, name="microfunnel-sdk", daemon=True)
        self._worker.start()
        atexit.register(self.shutdown)

    # --- tracking -------------------------------------------------------------------------

    def track(
        self, event: str, properties: Mapping[str, Any] | None = None, **fields: Unpack[EventFields]
    ) -> str | None:
        """Queue ``event``; returns its ``event_id``, or ``None`` if it had to be dropped."""
        if not isinstance(event, str) or not event:
            raise InputError(f"track() needs an event name such as 'add_to_cart', got {event!r}.")
        context = dict(fields.get("context") or {})
        context["library"] = dict(LIBRARY)
        context["consent"] = {"analytics": self._consent}
        timestamp = fields.get("timestamp")
        record = Event(
            event=event,
            event_id=fields.get("event_id") or new_event_id(),
            anonymous_id=fields.get("anonymous_id"),
            user_id=fields.get("user_id"),
            session_id=fields.get("session_id"),
            timestamp=as_utc(timestamp) if timestamp is not None else utcnow(),
            properties=dict(properties or {}),
            context=context,
        )
        return self._enqueue(record)

    def page(
        self,
        url: str,
        *,
        title: str | None = None,
        referrer: str | None = None,
        properties: Mapping[str, Any] | None = None,
        **fields: Unpack[EventFields],
    ) -> str | None:
        """A ``page_view`` of ``url``; path, referrer and ``utm_*`` go into the context."""
        parts = urlsplit(url)
        context: dict[str, Any] = {"page_url": url, "page_path": parts.path or "/"}
        context.update((k, v) for k, v in parse_qsl(parts.query) if k.startswith("utm_"))
        props: dict[str, Any] = {"page_location": url}
        if referrer:
            context["referrer"] = props["page_referrer"] = referrer
        if title:
            props["page_title"] = title
        props.update(properties or {})
        fields["context"] = {**context, **(fields.get("context") or {})}
        return self.track("page_view", props, **fields)

    def identify(
        self,
        user_id: str,
        traits: Mapping[str, Any] | None = None,
        **fields: Unpack[_Fields],
    ) -> str | None:
        """Tie the current ``anonymous_id`` to ``user_id`` (``$identify``, traits as properties).

        Without consent there is nothing to tie, so nothing is sent and ``None`` is returned.
        """
        if not self._consent:
            return None
        return self.track("$identify", traits, user_id=user_id, **fields)

    def alias(self, user_id: str, previous_id: str, **fields: Unpack[_Fields]) -> str | None:
        """Merge ``previous_id`` (an earlier user id) into ``user_id`` (``$alias``)."""
        if not self._consent:
            return None
        return self.track("$alias", {"previous_id": previous_id}, user_id=user_id, **fields)

    # --- consent --------------------------------------------------------------------------

    @property
    def consent(self) -> bool:
        return self._consent

    def set_consent(self, analytics: bool) -> None:
        """Turn analytics consent on or off.

        Off: identifiers (``anonymous_id``, ``user_id``, ``session_id``) are removed from every
        queued event, including a batch waiting for a retry, and from every future event, and
        ``context.consent.analytics`` is false, so the collector counts them without identity.
        """
        with self._cv:
            self._consent = bool(analytics)
            if not self._consent:
                for _, data in self._queue:
                    _forget(data)
                for data in self._inflight:
                    _forget(data)

    # --- flags ----------------------------------------------------------------------------

    def feature(
        self,
        key: str,
        attributes: Mapping[str, Any] | None = None,
        *,
        user_id: str | None = None,
        anonymous_id: str | None = None,
    ) -> FeatureResult:
        """Evaluate feature ``key`` locally for a user described by ``attributes``.

        The first time a user is bucketed into an experiment an ``experiment_exposure`` event is
        tracked with these ids (or, when none are given, the hashed attribute as
        ``anonymous_id``).
        """
        return self.flags.feature(key, attributes or {}, user_id, anonymous_id)

    def is_on(
        self,
        key: str,
        attributes: Mapping[str, Any] | None = None,
        *,
        user_id: str | None = None,
        anonymous_id: str | None = None,
    ) -> bool:
        """Whether feature ``key`` is on (JavaScript truthiness of its value) for this user."""
        return self.feature(key, attributes, user_id=user_id, anonymous_id=anonymous_id).on

    def _expose(self, exposure: Exposure) -> None:
        properties: dict[str, Any] = {
            "experiment_id": exposure.experiment_id,
            "variation_id": exposure.variation_id,
        }
        if exposure.feature_id:
            properties["feature_id"] = exposure.feature_id
        self.track(
            "experiment_exposure",
            properties,
            user_id=exposure.user_id,
            anonymous_id=exposure.anonymous_id,
        )

    # --- delivery -------------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything queued now; wait until it is delivered or given up.

        Returns ``False`` if ``timeout`` seconds passed first.
        """
        with self._cv:
            self._flushing = True
            self._cv.notify_all()
            return self._cv.wait_for(lambda: not self._queue and not self._inflight, timeout)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Flush (for at most ``timeout`` seconds), stop the worker and close connections.

        Runs at interpreter exit too. Events still unsent when the time is up are counted in
        ``dropped`` under ``"shutdown"``.
        """
        with self._cv:
            if self._closed:
                return
        flushed = self.flush(timeout)
        with self._cv:
            self._closed = True
            if not flushed:
                self._abort.set()
                self._drop(len(self._queue), "shutdown")
                self._queue.clear()
            self._cv.notify_all()
        self._worker.join(timeout=self._http.timeout.read or timeout)
        self.flags.close()
        self._http.close()
        atexit.unregister(self.shutdown)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def _enqueue(self, record: Event) -> str | None:
        if not self._consent:
            record.anonymous_id = record.user_id = record.session_id = None
        try:
            data = msgspec.to_builtins(record)
            size = len(msgspec.json.encode(data))
        except (TypeError, msgspec.EncodeError) as exc:
            raise InputError(
                f"Event `{record.event}` cannot be sent as JSON ({exc}): pass properties made of "
                "str, numbers, bools, None, lists, dicts and datetimes."
            ) from exc
        if size > MAX_EVENT_BYTES:
            raise InputError(
                f"Event `{record.event}` is {size} bytes as JSON, over the {MAX_EVENT_BYTES} byte "
                "limit: send fewer or shorter properties."
            )
        with self._cv:
            if not self._consent:  # consent may have been withdrawn since the check above
                _forget(data)
            if self._closed:
                self._drop(1, "closed")
                return None
            if len(self._queue) >= self.max_queue:
                self._drop(1, "queue_full")
                return None
            self._queue.append((size, data))
            if len(self._queue) in (1, self.flush_at):  # the worker starts its timer, or sends
                self._cv.notify_all()
        return record.event_id

    def _drop(self, count: int, reason: str) -> None:
        if count <= 0:
            return
        self.dropped += count
        self.drop_reasons[reason] += count
        # Log the first drop of each kind, then every 1000th, so a full queue cannot flood logs.
        if self.drop_reasons[reason] - count == 0 or self.drop_reasons[reason] % 1000 < count:
            logger.warning(
                "microfunnel: dropped %d event(s) (%s); %d dropped so far. %s",
                count,
                reason,
                self.dropped,
                self.last_error,
            )

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not self._closed:
                    self._flushing = False
                    self._cv.notify_all()
                    self._cv.wait()
                if not self._queue:
                    self._cv.notify_all()
                    return
                deadline = time.monotonic() + self.flush_interval
                while len(self._queue) < self.flush_at and not (self._closed or self._flushing):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cv.wait(remaining)
                self._inflight = self._take()
            outcome = self._sender.send(self._inflight)
            with self._cv:
                self._record(outcome, len(self._inflight))
                self._inflight = []
                self._cv.notify_all()

    def _take(self) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        total = 0
        while self._queue and len(batch) < self.flush_at:
            size = self._queue[0][0]
            if batch and total + size > MAX_BATCH_BYTES:
                break
            total += size
            batch.append(self._queue.popleft()[1])
        return batch

    def _record(self, outcome: Outcome, count: int) -> None:
        if outcome.delivered:
            self.delivered += count
            self.quarantined += outcome.quarantined
            if outcome.quarantined:
                logger.warning(
                    "microfunnel: the collector quarantined %d event(s): they break the tracking "
                    "plan; see `microfunnel quarantine`.",
                    outcome.quarantined,
                )
            return
        self.last_error = outcome.error
        if self._abort.is_set():
            reason = "shutdown"
        elif outcome.status is not None and not retryable(outcome.status):
            reason = "rejected"
        else:
            reason = "retries_exhausted"
        self._drop(count, reason)


def _forget(data: dict[str, Any]) -> None:
    for name in _IDENTIFIERS:
        data.pop(name, None)
    context = data.setdefault("context", {})
    context.pop("ip", None)
    context["consent"] = {"analytics": False}


def _check_settings(
    write_key: str,
    host: str,
    flush_at: int,
    flush_interval: float,
    max_queue: int,
    max_retries: int,
) -> None:
    if not isinstance(write_key, str) or not write_key:
        raise ConfigError("Client needs the project's write key, a non-empty string.")
    if urlsplit(host).scheme not in ("http", "https"):
        raise ConfigError(f"host must be an http(s) URL like 'https://collect.shop', not {host!r}.")
    if flush_at < 1 or max_queue < 1 or max_retries < 0 or flush_interval < 0:
        raise ConfigError(
            "flush_at and max_queue must be at least 1, max_retries and flush_interval at least 0."
        )
