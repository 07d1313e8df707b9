"""Event stores: DuckDB (embedded default) and ClickHouse (server, or chdb in-process)."""

from microfunnel.store.base import InsertResult, QuarantineRecord, Store

__all__ = ["InsertResult", "QuarantineRecord", "Store"]
