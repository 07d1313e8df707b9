"""Shared fixtures: a store on each engine, on disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from microfunnel.store.base import Store
from microfunnel.store.clickhouse import ClickHouseStore
from microfunnel.store.duckdb import DuckDBStore

ENGINES = ["duckdb", "clickhouse"]


def open_store(engine: str, folder: Path) -> Store:
    if engine == "duckdb":
        return DuckDBStore(folder / "events.duckdb")
    return ClickHouseStore(folder / "chdb")


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = open_store(request.param, tmp_path)
    yield s
    s.close()
