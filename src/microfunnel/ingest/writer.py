"""The single writer: moves durable spool records into the store, in order, in batches.

It is the only code that writes events to the store while a server runs. After each batch is in
the store it advances the spool checkpoint; a crash in between replays the batch on start-up and
the store's event_id dedupe makes that harmless.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from microfunnel.ingest.records import SpoolBatch, decode_batch, event_arrays, event_count
from microfunnel.ingest.spool import Record, Spool
from microfunnel.store.base import QuarantineRecord, Store

__all__ = ["Writer"]

log = logging.getLogger("microfunnel.writer")


class Writer:
    """Applies spool records to a store on its own thread."""

    def __init__(
        self, store: Store, spool: Spool, *, batch_events: int = 20_000, interval: float = 0.0
    ):
        self.store = store
        self.spool = spool
        self.batch_events = batch_events
        # Each store insert has a fixed cost (a handful of statements and a commit, tens of
        # milliseconds of CPU): at most one per ``interval`` lets a trickle of small records
        # form one batch instead of an insert each, unless someone drains or the writer stops.
        self.interval = interval
        self._hurry = 0  # callers waiting in drain()
        self._last_apply = 0.0
        self.applied_events = 0
        self.stored_events = 0  # applied minus those the store already had (retries)
        self.last_error: str | None = None
        self._pending: deque[Record] = deque()
        self._cond = threading.Condition()
        self._busy = False
        self._stop = False
        self._thread: threading.Thread | None = None
        self.generation = 0  # bumped after every applied batch (cache invalidation)

    def recover(self) -> int:
        """Apply every record after the checkpoint (run before accepting new work)."""
        records = list(self.spool.read_from(self.spool.checkpoint()))
        for start in range(0, len(records), 64):
            self._apply(records[start : start + 64])
        return len(records)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="microfunnel-writer", daemon=True)
        self._thread.start()

    def submit(self, records: list[Record]) -> None:
        """Called by the spool once records are durable.

        Only the first record of a batch wakes the writer: while a batch forms it waits out
        ``interval`` whatever arrives, and waking it for each spool group (hundreds a second
        at full rate) only made its thread contend for the interpreter with the event loop.
        """
        with self._cond:
            first = not self._pending
            self._pending.extend(records)
            if first:
                self._cond.notify_all()

    def drain(self, timeout: float = 60.0) -> bool:
        """Wait until everything submitted is in the store."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._hurry += 1
            self._cond.notify_all()
            try:
                while self._pending or self._busy:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._cond.wait(left)
            finally:
                self._hurry -= 1
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stop:
                    self._cond.wait()
                if self._stop and not self._pending:
                    return
                while not self._stop and not self._hurry:  # let a batch form
                    left = self._last_apply + self.interval - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                taken: list[Record] = []
                count = 0
                while self._pending and count < self.batch_events:
                    record = self._pending.popleft()
                    taken.append(record)
                    count += _events_in(record)
                self._busy = True
            self._last_apply = time.monotonic()
            try:
                self._apply(taken)
            except Exception as exc:  # the store failed: keep the records, retry after a pause
                self.last_error = str(exc)
                log.error("writer could not apply %d records: %s; retrying", len(taken), exc)
                with self._cond:
                    self._pending.extendleft(reversed(taken))
                time.sleep(1.0)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _apply(self, records: list[Record]) -> None:
        if not records:
            return
        arrays: list[bytes] = []
        quarantine: list[QuarantineRecord] = []
        identities: list[tuple[str, str]] = []
        for record in records:
            carried = record.carry
            batch = carried if isinstance(carried, SpoolBatch) else decode_batch(record.payload)
            array = event_arrays(batch)
            if array:
                arrays.append(array)
            quarantine.extend(batch.quarantine)
            identities.extend(batch.identities)
        if identities:
            self.store.merge_identities(identities)
        if arrays:
            result = self.store.insert_json(arrays)
            self.stored_events += result.inserted
            self.applied_events += result.inserted + result.duplicates
        if quarantine:
            self.store.insert_quarantine(quarantine)
        self.spool.set_checkpoint(records[-1].end)
        self.last_error = None
        self.generation += 1

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=60)


def _events_in(record: Record) -> int:
    """Events a record holds, for ``batch_events`` (records not carried in memory count as
    one; they come only from recovery, which takes 64 records at a time)."""
    carried = record.carry
    return max(event_count(carried), 1) if isinstance(carried, SpoolBatch) else 1
