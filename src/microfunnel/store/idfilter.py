"""Which event ids the store received recently, answered without scanning the events table.

Dedupe on ``event_id`` used to be an anti-join of every incoming batch against every id of the
dedupe window: its cost grew with the table (55 µs per event at 5M stored events, and an
ingest run of minutes at full speed stores tens of millions). :class:`IdFilter` keeps 64-bit
hashes of those ids in memory instead, as a few sorted numpy runs (a log-structured merge: a new
batch is a small run, runs of similar size merge), so a batch is probed with one binary search
per run, whatever the table holds.

A hash match only says "maybe": the store then checks just those ids against the table, exactly.
A hash miss is certain (every stored id in the covered span has its hash here), so an event
whose hash is not present is new. 8 bytes per id: 10M events of a week take 80 MB.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt

__all__ = ["IdFilter", "recent_guard"]

Hashes = npt.NDArray[np.uint64]


class IdFilter:
    """Sorted runs of id hashes, grouped by day of receipt so whole days expire.

    Within the current day a new batch is a small run and runs of similar size merge (O(log n)
    runs); when a new day begins, the previous day's runs merge into one. ``covered_from`` is
    the receipt time from which every stored id is in the filter: None before :meth:`load`,
    moved forward when a day is dropped to stay under ``capacity``; ids received before it
    must be checked in the table.
    """

    def __init__(self, capacity: int = 64_000_000, day: timedelta = timedelta(days=1)):
        self.capacity = capacity
        self.day = day
        self.covered_from: datetime | None = None
        self._runs: list[_Run] = []

    @property
    def loaded(self) -> bool:
        return self.covered_from is not None

    def __len__(self) -> int:
        return sum(len(run.hashes) for run in self._runs)

    def load(self, hashes: Hashes, newest: datetime | None, covered_from: datetime) -> None:
        """Start from the stored ids received since ``covered_from`` (one run, expiring
        when its newest id leaves the window)."""
        self._runs = []
        self.covered_from = covered_from
        if len(hashes) and newest is not None:
            self._runs.append(_Run(np.sort(hashes), newest, closed=True))

    def add(self, hashes: Hashes, newest: datetime) -> None:
        """Remember a stored batch received up to ``newest``."""
        if not len(hashes):
            return
        last = self._runs[-1] if self._runs else None
        if last is not None and not last.closed and self._day(last.newest) != self._day(newest):
            self._close_day()
        runs = self._runs
        runs.append(_Run(np.sort(hashes), newest))
        while len(runs) > 1 and not runs[-2].closed and len(runs[-2]) <= 2 * len(runs[-1]):
            late, early = runs.pop(), runs.pop()
            runs.append(early.merged(late))
        self._shrink()

    def contains(self, hashes: Hashes) -> npt.NDArray[np.bool_]:
        """For each hash: might it be a stored id? (False is certain.)"""
        found = np.zeros(len(hashes), dtype=bool)
        for run in self._runs:
            at = np.searchsorted(run.hashes, hashes)
            at[at == len(run)] = len(run) - 1
            found |= run.hashes[at] == hashes
        return found

    def expire(self, before: datetime) -> None:
        """Forget runs holding nothing received at or after ``before``."""
        self._runs = [run for run in self._runs if run.newest >= before]

    def _day(self, at: datetime) -> int:
        aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # naive times are UTC
        return int(aware.timestamp() // self.day.total_seconds())

    def _close_day(self) -> None:
        """Merge the open day's runs into one that no later run merges into."""
        closed = [run for run in self._runs if run.closed]
        open_runs = [run for run in self._runs if not run.closed]
        if open_runs:
            merged = open_runs[0]
            for run in open_runs[1:]:
                merged = merged.merged(run)
            closed.append(_Run(merged.hashes, merged.newest, closed=True))
        self._runs = closed

    def _shrink(self) -> None:
        """Drop the oldest runs while over capacity; the table answers for what they held."""
        while len(self) > self.capacity and len(self._runs) > 1:
            newest = self._runs.pop(0).newest
            if self.covered_from is None or newest > self.covered_from:
                self.covered_from = newest


class _Run:
    """One sorted array of hashes and the latest receipt time among them."""

    __slots__ = ("closed", "hashes", "newest")

    def __init__(self, hashes: Hashes, newest: datetime, *, closed: bool = False):
        self.hashes = hashes
        self.newest = newest
        self.closed = closed

    def __len__(self) -> int:
        return len(self.hashes)

    def merged(self, later: _Run) -> _Run:
        both = np.concatenate((self.hashes, later.hashes))
        both.sort(kind="stable")  # two sorted halves: timsort merges them in one pass
        return _Run(both, max(self.newest, later.newest))


def recent_guard(
    con: duckdb.DuckDBPyConnection, ids: IdFilter, hashes: Hashes, since: datetime
) -> tuple[str, list[Any]]:
    """A DuckDB insert's dedupe condition on its rows ``b`` (registered as ``_batch``) for ids
    received since ``since``: the stored ids among the filter's "maybe" answers, plus a table
    check of any span before the filter's coverage. Fills ``ids`` first if it is empty."""
    if not ids.loaded:
        _load(con, ids, since)
    stored: list[str] = []
    maybe = ids.contains(hashes)
    if maybe.any():
        stored = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT event_id FROM events WHERE received_at >= ? AND event_id IN "
                "(SELECT event_id FROM _batch "
                "WHERE list_contains(?::UBIGINT[], hash(event_id)))",
                [since, hashes[maybe].tolist()],
            ).fetchall()
        ]
    guard, params = "NOT list_contains(?, b.event_id)", list[Any]([stored])
    assert ids.covered_from is not None
    if ids.covered_from > since:  # the filter dropped older ids: the table answers for them
        guard += (
            " AND NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = b.event_id "
            "AND e.received_at >= ? AND e.received_at < ?)"
        )
        params += [since, ids.covered_from]
    return guard, params


def _load(con: duckdb.DuckDBPyConnection, ids: IdFilter, since: datetime) -> None:
    """Fill the filter with the ids received since ``since`` (once per open store)."""
    table = con.sql(
        "SELECT hash(event_id) AS h, max(received_at) OVER () AS hi FROM events "
        "WHERE received_at >= ?",
        params=[since],
    ).to_arrow_table()
    newest = table.column("hi")[0].as_py() if table.num_rows else None
    ids.load(table.column("h").to_numpy(), newest, since)
