"""Page results cached per project until new data arrives.

The key of a project's cache is its *data version*: the writer's ``generation`` (bumped after
every applied batch) together with the number of stored events and pending quarantine rows, so
a quarantine replay or a ``forget`` (which write outside the writer's batches) invalidates too.
The version costs two ``count(*)`` queries, answered from metadata in DuckDB.

>>> cache = ResultCache()
>>> calls = []
>>> cache.get(("demo", 1), ("x",), lambda: calls.append(1) or 42)
42
>>> cache.get(("demo", 1), ("x",), lambda: calls.append(1) or 42), len(calls)
(42, 1)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

__all__ = ["ResultCache", "data_version"]

T = TypeVar("T")


def data_version(runtime: Any) -> tuple[Hashable, ...]:
    """What changes whenever the project's stored data changes."""
    store = runtime.store
    pending = store.scalar("SELECT count(*) FROM quarantine WHERE replayed_at IS NULL")
    return (id(runtime), runtime.writer.generation, store.count_events(), int(pending or 0))


class ResultCache:
    """A small LRU of results; a new data version for a project drops that project's entries.

    Two requests asking for the same missing result compute it once: the second waits.
    """

    def __init__(self, max_entries: int = 256):
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[Hashable, Hashable], Any] = OrderedDict()
        self._versions: dict[Hashable, Hashable] = {}
        self._lock = threading.Lock()
        self._computing: dict[tuple[Hashable, Hashable], threading.Lock] = {}
        self.hits = 0
        self.misses = 0

    def get(self, version: tuple[Hashable, ...], key: Hashable, compute: Callable[[], T]) -> T:
        project, full = version[0], (version[0], key)
        with self._lock:
            if self._versions.get(project) != version:
                self._versions[project] = version
                for stale in [k for k in self._entries if k[0] == project]:
                    del self._entries[stale]
            if full in self._entries:
                self._entries.move_to_end(full)
                self.hits += 1
                return self._entries[full]
            gate = self._computing.setdefault(full, threading.Lock())
        with gate:
            with self._lock:
                if full in self._entries and self._versions.get(project) == version:
                    self.hits += 1
                    return self._entries[full]
            self.misses += 1
            value = compute()
            with self._lock:
                if self._versions.get(project) == version:
                    self._entries[full] = value
                    while len(self._entries) > self.max_entries:
                        self._entries.popitem(last=False)
                self._computing.pop(full, None)
        return value
