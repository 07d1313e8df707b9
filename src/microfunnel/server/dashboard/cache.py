"""Page results cached per project, served stale while a fresh one is computed.

A result is tagged with the project's *data version* when its computation starts: the writer's
``generation`` (bumped after every applied batch) with the number of stored events and pending
quarantine rows, so a quarantine replay or a ``forget`` (which write outside the writer's
batches) count as new data too. The version costs two ``count(*)`` queries, answered from
metadata in DuckDB.

- No result yet for a key: the request computes it (a second request for the same key waits for
  that computation instead of starting its own).
- A result for the current version: served as is.
- A result for an older version (*stale*): served at once, and one background computation for
  the key starts, unless one is running or one started less than ``min_interval`` seconds ago,
  so while events stream in a page is recomputed at most every ``min_interval`` seconds and is
  never older than about ``min_interval`` plus its own computing time. A recomputation that
  finishes within ``grace`` seconds is waited for, so a small store always looks fresh.

>>> cache = ResultCache()
>>> calls = []
>>> cache.get(("demo", 1), ("x",), lambda: calls.append(1) or 42)
42
>>> cache.get(("demo", 1), ("x",), lambda: calls.append(1) or 42), len(calls)
(42, 1)
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = ["Cached", "ResultCache", "data_version"]

T = TypeVar("T")
Version = tuple[Hashable, ...]
log = logging.getLogger(__name__)


def data_version(runtime: Any) -> Version:
    """What changes whenever the project's stored data changes."""
    store = runtime.store
    pending = store.count_quarantined()
    return (id(runtime), runtime.writer.generation, store.count_events(), pending)


@dataclass(frozen=True)
class Cached(Generic[T]):
    """A result and how old it is: ``fresh`` when computed on the current data version."""

    value: T
    computed_at: float
    """Wall-clock time (``time.time()``) its computation started."""
    fresh: bool
    refreshing: bool

    def age(self, now: float | None = None) -> float:
        return max(0.0, (time.time() if now is None else now) - self.computed_at)


@dataclass
class _Entry:
    value: Any
    version: Version
    computed_at: float


@dataclass
class _Job:
    version: Version
    started: float  # time.monotonic()
    done: threading.Event = field(default_factory=threading.Event)
    entry: _Entry | None = None
    error: BaseException | None = None


class ResultCache:
    """An LRU of results per (project, key) with stale-while-revalidate (module docstring)."""

    def __init__(
        self,
        max_entries: int = 256,
        *,
        min_interval: float = 30.0,
        grace: float = 0.25,
        workers: int = 1,
    ):
        self.max_entries = max_entries
        self.min_interval = min_interval
        self.grace = grace
        self._entries: OrderedDict[tuple[Hashable, Hashable], _Entry] = OrderedDict()
        self._jobs: dict[tuple[Hashable, Hashable], _Job] = {}
        self._last_start: dict[tuple[Hashable, Hashable], float] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="dashboard-refresh")
        self.hits = 0
        self.stale_hits = 0
        self.misses = 0
        self.refreshes = 0

    def get(self, version: Version, key: Hashable, compute: Callable[[], T]) -> T:
        return self.lookup(version, key, compute).value

    def lookup(
        self, version: Version, key: Hashable, compute: Callable[[], T], *, wait: bool = False
    ) -> Cached[T]:
        """The result for ``key``, possibly stale (module docstring); ``wait=True`` asks for a
        result on the current data: a stale one is recomputed now (whatever ``min_interval``
        says) and waited for."""
        full = (version[0], key)
        with self._lock:
            entry = self._entries.get(full)
            if entry is not None:
                self._entries.move_to_end(full)
                if entry.version == version:
                    self.hits += 1
                    return Cached(entry.value, entry.computed_at, True, False)
                self.stale_hits += 1
                refresh = self._jobs.get(full) or self._maybe_refresh(
                    full, version, compute, force=wait
                )
                stale: Cached[T] = Cached(
                    entry.value, entry.computed_at, False, refresh is not None
                )
                job = None
            else:
                refresh, job = None, self._jobs.get(full)
                owner = job is None
                if job is None:
                    job = self._start(full, version)
                self.misses += owner
        if job is None:
            quick = refresh is not None and refresh.version == version
            grace = None if wait else self.grace
            if quick and refresh is not None and refresh.done.wait(grace):
                if refresh.error is not None and wait:
                    raise refresh.error
                if refresh.entry is not None:
                    return Cached(refresh.entry.value, refresh.entry.computed_at, True, False)
            return stale
        if owner:
            self._run(full, job, compute)
        job.done.wait()
        if job.error is not None:
            raise job.error
        assert job.entry is not None
        return Cached(job.entry.value, job.entry.computed_at, job.version == version, False)

    def wait(self, timeout: float = 60.0) -> bool:
        """Block until no computation is running (tests and benchmarks); False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                jobs = list(self._jobs.values())
            if not jobs:
                return True
            for job in jobs:
                if not job.done.wait(max(0.0, deadline - time.monotonic())):
                    return False

    def _start(self, full: tuple[Hashable, Hashable], version: Version) -> _Job:
        job = _Job(version, time.monotonic())
        self._jobs[full] = job
        self._last_start[full] = job.started
        return job

    def _maybe_refresh(
        self,
        full: tuple[Hashable, Hashable],
        version: Version,
        compute: Callable[[], Any],
        *,
        force: bool,
    ) -> _Job | None:
        last = self._last_start.get(full)
        if not force and last is not None and time.monotonic() - last < self.min_interval:
            return None
        job = self._start(full, version)
        self.refreshes += 1
        self._pool.submit(self._refresh, full, job, compute)
        return job

    def _refresh(
        self, full: tuple[Hashable, Hashable], job: _Job, compute: Callable[[], Any]
    ) -> None:
        try:
            self._run(full, job, compute)
        except Exception:
            # The next request computes again in the foreground and shows what went wrong.
            log.warning("refreshing dashboard result %r failed", full[1], exc_info=True)

    def _run(self, full: tuple[Hashable, Hashable], job: _Job, compute: Callable[[], Any]) -> None:
        computed_at = time.time()
        try:
            value = compute()
        except BaseException as exc:
            job.error = exc
            with self._lock:
                self._entries.pop(full, None)
                self._jobs.pop(full, None)
                self._last_start.pop(full, None)
            job.done.set()
            raise
        entry = _Entry(value, job.version, computed_at)
        job.entry = entry
        with self._lock:
            self._entries[full] = entry
            self._entries.move_to_end(full)
            while len(self._entries) > self.max_entries:
                gone, _ = self._entries.popitem(last=False)
                self._last_start.pop(gone, None)
            self._jobs.pop(full, None)
        job.done.set()
