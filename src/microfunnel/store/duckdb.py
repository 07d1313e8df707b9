"""The embedded default engine: one DuckDB file per project.

One connection owns writes (the single writer); each reading thread gets its own cursor on the
same database instance, so reads never wait on a second process lock.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import pyarrow as pa

from microfunnel.errors import StoreError
from microfunnel.events.model import Event, utcnow
from microfunnel.store.base import (
    EVENT_COLUMNS,
    InsertResult,
    QuarantineRecord,
    Store,
    events_to_arrow,
    quarantine_to_arrow,
)
from microfunnel.store.ddl import duckdb_ddl

__all__ = ["DuckDBStore"]

_COLS = ", ".join(EVENT_COLUMNS)


class DuckDBStore(Store):
    """Events in a DuckDB file (``":memory:"`` for a throwaway store).

    ``dedupe_window`` bounds the event_id check on ingest to events received that recently (the
    table is appended in receipt order, so zone maps skip older row groups); ``None`` checks the
    whole table. Bulk import and quarantine replay always check the whole table.
    """

    engine: ClassVar[str] = "duckdb"

    def __init__(self, path: str | Path, *, dedupe_window: timedelta | None = timedelta(days=7)):
        self.path = str(path)
        self.dedupe_window = dedupe_window
        try:
            self._con = duckdb.connect(self.path)
        except duckdb.IOException as exc:
            raise StoreError(
                f"cannot open the store {self.path}: {exc}. If a microfunnel server is running on "
                "this project, stop it or ask it over HTTP instead."
            ) from exc
        self._local = threading.local()
        self._write_lock = threading.Lock()
        for statement in duckdb_ddl():
            self._con.execute(statement)

    @property
    def dialect(self) -> Any:
        from microfunnel.query.dialect import DUCKDB

        return DUCKDB

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._con.cursor()
            self._local.cursor = cursor
        return cursor

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        try:
            relation = self._cursor().sql(sql, params=list(params or []))
            if relation is None:
                return pa.table({})
            return relation.to_arrow_table()
        except duckdb.Error as exc:
            raise StoreError(f"query failed on DuckDB: {exc}") from exc

    def insert_events(self, events: Sequence[Event]) -> InsertResult:
        if not events:
            return InsertResult(0, 0)
        return self._insert(events_to_arrow(events), self.dedupe_window)

    def insert_arrow(self, table: pa.Table) -> InsertResult:
        return self._insert(table, None)

    def _insert(self, batch: pa.Table, window: timedelta | None) -> InsertResult:
        total = batch.num_rows
        if total == 0:
            return InsertResult(0, 0)
        recent = ""
        params: list[Any] = []
        if window is not None:
            # Retries arrive within the window of the batch they repeat.
            recent = "AND e.received_at >= (SELECT min(received_at) FROM _batch) - ?"
            params.append(window)
        with self._write_lock:
            con = self._con
            con.register("_batch", batch)
            try:
                con.execute("BEGIN")
                con.execute(
                    f"""
                    INSERT INTO events ({_COLS})
                    SELECT {
                        ", ".join(
                            "b." + c
                            if c != "person_id"
                            else "coalesce(b.user_id, i.user_id, b.person_id) AS person_id"
                            for c in EVENT_COLUMNS
                        )
                    }
                    FROM (
                        SELECT * FROM _batch
                        QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY received_at) = 1
                    ) b
                    LEFT JOIN identities i ON i.anonymous_id = b.anonymous_id
                    WHERE NOT EXISTS (
                        SELECT 1 FROM events e WHERE e.event_id = b.event_id {recent}
                    )
                    """,
                    params,
                )
                inserted = con.fetchone()
                con.execute("COMMIT")
            except duckdb.Error as exc:
                with contextlib.suppress(duckdb.Error):  # the failure may have ended it already
                    con.execute("ROLLBACK")
                raise StoreError(f"insert into DuckDB failed: {exc}") from exc
            finally:
                con.unregister("_batch")
        count = int(inserted[0]) if inserted else 0
        return InsertResult(count, total - count)

    def bulk_load(self, table: pa.Table) -> int:
        """Append rows in the ``events`` layout as they are: no dedupe, no identity lookup,
        in the order given (rows grouped by person and time stay clustered that way). For
        trusted bulk loads (benchmarks, a store being rebuilt); use :meth:`insert_arrow` for
        anything that may repeat events."""
        with self._write_lock:
            self._con.register("_bulk", table)
            try:
                self._con.execute(f"INSERT INTO events ({_COLS}) SELECT {_COLS} FROM _bulk")
            except duckdb.Error as exc:
                raise StoreError(f"bulk load into DuckDB failed: {exc}") from exc
            finally:
                self._con.unregister("_bulk")
        return table.num_rows

    def insert_quarantine(self, records: Sequence[QuarantineRecord]) -> int:
        if not records:
            return 0
        batch = quarantine_to_arrow(records)
        with self._write_lock:
            self._con.register("_qbatch", batch)
            try:
                self._con.execute(
                    """
                    INSERT INTO quarantine
                    SELECT * FROM _qbatch b
                    WHERE NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.event_id = b.event_id)
                    QUALIFY row_number() OVER (PARTITION BY b.event_id) = 1
                    """
                )
                row = self._con.fetchone()
            finally:
                self._con.unregister("_qbatch")
        return int(row[0]) if row else 0

    def merge_identity(self, anonymous_id: str, user_id: str) -> int:
        with self._write_lock:
            con = self._con
            known = con.execute(
                "SELECT user_id FROM identities WHERE anonymous_id = ?", [anonymous_id]
            ).fetchone()
            if known is None:
                con.execute(
                    "INSERT INTO identities VALUES (?, ?, ?)",
                    [anonymous_id, user_id, utcnow().replace(tzinfo=None)],
                )
            elif known[0] != user_id:
                return 0  # first merge wins: an anonymous id belongs to one person
            con.execute(
                "UPDATE events SET person_id = ? WHERE anonymous_id = ? AND user_id IS NULL "
                "AND person_id <> ?",
                [user_id, anonymous_id, user_id],
            )
            row = con.fetchone()
        return int(row[0]) if row else 0

    def forget(self, user_id: str) -> int:
        with self._write_lock:
            con = self._con
            anon = [
                r[0]
                for r in con.execute(
                    "SELECT anonymous_id FROM identities WHERE user_id = ? UNION "
                    "SELECT DISTINCT anonymous_id FROM events WHERE user_id = ? "
                    "AND anonymous_id IS NOT NULL",
                    [user_id, user_id],
                ).fetchall()
            ]
            con.execute(
                "DELETE FROM events WHERE user_id = ? OR person_id = ? "
                "OR list_contains(?, anonymous_id)",
                [user_id, user_id, anon],
            )
            row = con.fetchone()
            con.execute(
                "DELETE FROM quarantine WHERE user_id = ? OR list_contains(?, anonymous_id) "
                "OR contains(raw, ?)",
                [user_id, anon, f'"{user_id}"'],
            )
            con.execute("DELETE FROM identities WHERE user_id = ?", [user_id])
            con.execute("CHECKPOINT")
        return int(row[0]) if row else 0

    def mark_replayed(self, event_ids: Sequence[str]) -> None:
        if not event_ids:
            return
        with self._write_lock:
            self._con.execute(
                "UPDATE quarantine SET replayed_at = ? WHERE list_contains(?, event_id)",
                [utcnow().replace(tzinfo=None), list(event_ids)],
            )

    def checkpoint(self) -> None:
        with self._write_lock:
            self._con.execute("CHECKPOINT")

    def close(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self._con.close()
