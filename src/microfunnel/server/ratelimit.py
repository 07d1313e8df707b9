"""Per-key rate limits: a token bucket per key, refilled at ``rate_limit_per_second``.

A bucket holds at most one second of requests (at least one), so a client may burst up to its
rate and then sends at that rate. Over the limit the server answers 429 with ``Retry-After``
(whole seconds until a token is back). Buckets exist only for valid keys, so their number is
bounded by the keys the server knows. A rate of 0 means unlimited and costs one comparison.

>>> limits = RateLimits(clock=lambda: 0.0)
>>> limits.check("mfw_key", 1.0)
>>> try:
...     limits.check("mfw_key", 1.0)
... except RateLimited as exc:
...     print(exc.status, exc.retry_after)
429 1
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from microfunnel.errors import Unavailable

__all__ = ["RateLimited", "RateLimits"]


class RateLimited(Unavailable):
    """Too many requests for one key (429, with ``Retry-After``)."""

    status = 429
    code = "rate_limited"


class RateLimits:
    """Token buckets by key; safe to call from the event loop and from worker threads."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._buckets: dict[str, list[float]] = {}  # key -> [tokens, last refill time]
        self._lock = threading.Lock()

    def check(self, key: str, rate: float) -> None:
        """Take one token from ``key``'s bucket, or raise :class:`RateLimited`."""
        if rate <= 0:
            return
        burst = max(1.0, rate)
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = [burst, now]
            tokens = min(burst, bucket[0] + (now - bucket[1]) * rate)
            bucket[1] = now
            if tokens >= 1.0:
                bucket[0] = tokens - 1.0
                return
            bucket[0] = tokens
        wait = max(1, math.ceil((1.0 - tokens) / rate))
        raise RateLimited(
            f"key `{key[:8]}…` is over its limit of {rate:g} requests per second: "
            f"retry after {wait} s",
            retry_after=wait,
        )
