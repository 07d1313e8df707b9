"""Sending one batch to the collector, with retries that never double-count.

A batch is retried on network errors, 408, 429 and 5xx (except 501 and 505), with exponential
backoff and jitter, and never sooner than the server's ``Retry-After``. Every attempt sends the
same events with the same ``event_id`` (the collector dedupes on it) and a fresh ``sent_at``, so
the server's clock-skew correction sees when the request really left. Other 4xx answers mean the
request itself is wrong: retrying would only repeat it, so the batch is given up and reported.
"""

from __future__ import annotations

import email.utils
import gzip
import logging
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec

__all__ = ["Outcome", "RetryPolicy", "Sender", "parse_retry_after"]

logger = logging.getLogger("microfunnel.sdk")

EVENTS_PATH = "/v1/events"
_NOT_RETRIED_5XX = frozenset({501, 505})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to wait before retry ``n`` (0-based): a random time in
    ``[(1 - jitter) * d, d]`` with ``d = min(cap, base * 2**n)``, and at least ``Retry-After``
    (itself capped at ``max_retry_after`` so a confused server cannot stall the client for hours).
    """

    base: float = 0.25
    cap: float = 30.0
    jitter: float = 0.5
    max_retry_after: float = 300.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        ceiling = min(self.cap, self.base * 2.0**attempt)
        wait = random.uniform((1.0 - self.jitter) * ceiling, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def retryable(status: int) -> bool:
    return status in (408, 429) or (status >= 500 and status not in _NOT_RETRIED_5XX)


@dataclass(slots=True)
class Outcome:
    """What became of a batch: ``delivered`` or not, the collector's counts, the last error."""

    delivered: bool
    attempts: int
    status: int | None = None
    accepted: int = 0
    quarantined: int = 0
    duplicates: int = 0
    error: str = ""


class Sender:
    """Posts batches to ``POST /v1/events`` of one collector with one write key.

    ``lock`` guards the event dicts while a request body is built from them (the client may
    strip identifiers from a batch that is waiting for a retry); ``abort`` cuts a backoff short
    when the client shuts down.
    """

    def __init__(
        self,
        http: httpx.Client,
        write_key: str,
        *,
        max_retries: int,
        compress: bool,
        policy: RetryPolicy,
        lock: threading.Condition,
        abort: threading.Event,
        user_agent: str,
    ) -> None:
        self.http = http
        self.write_key = write_key
        self.max_retries = max_retries
        self.compress = compress
        self.policy = policy
        self.lock = lock
        self.abort = abort
        self.user_agent = user_agent

    def send(self, batch: Sequence[dict[str, Any]]) -> Outcome:
        """Send ``batch`` until it is delivered, rejected, or the retries are used up."""
        error = ""
        status: int | None = None
        for attempt in range(self.max_retries + 1):
            retry_after: float | None = None
            try:
                response = self._post(batch, attempt)
            except httpx.TransportError as exc:
                error, status = f"{type(exc).__name__}: {exc}", None
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return _delivered(response, attempt + 1)
                error = _error_message(response)
                if not retryable(status):
                    return Outcome(False, attempt + 1, status, error=error)
                retry_after = parse_retry_after(response.headers.get("retry-after"))
            if attempt == self.max_retries:
                break
            wait = self.policy.delay(attempt, retry_after)
            logger.info("microfunnel: batch not accepted (%s); retry in %.2f s", error, wait)
            if self.abort.wait(wait):
                error = f"{error}; shut down before the next retry"
                return Outcome(False, attempt + 1, status, error=error)
        return Outcome(False, self.max_retries + 1, status, error=error)

    def _post(self, batch: Sequence[dict[str, Any]], attempt: int) -> httpx.Response:
        sent_at = datetime.now(UTC)
        with self.lock:
            body = msgspec.json.encode({"batch": batch, "sent_at": sent_at})
        headers = {
            "Authorization": f"Bearer {self.write_key}",
            "Content-Type": "application/json",
            "User-Agent": self.user_agent,
            "X-Retry-Count": str(attempt),
        }
        if self.compress:
            body = gzip.compress(body, compresslevel=6)
            headers["Content-Encoding"] = "gzip"
        return self.http.post(EVENTS_PATH, content=body, headers=headers)


def _delivered(response: httpx.Response, attempts: int) -> Outcome:
    counts = {k: v for k, v in _json(response).items() if type(v) is int}
    return Outcome(
        True,
        attempts,
        response.status_code,
        accepted=counts.get("accepted", 0),
        quarantined=counts.get("quarantined", 0),
        duplicates=counts.get("duplicates", 0),
    )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _error_message(response: httpx.Response) -> str:
    error = _json(response).get("error")
    if isinstance(error, dict):
        where = f" (field {error['field']})" if error.get("field") else ""
        return f"HTTP {response.status_code} {error.get('code')}: {error.get('message')}{where}"
    return f"HTTP {response.status_code}"
