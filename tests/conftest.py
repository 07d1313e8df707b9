"""Shared fixtures: a store on each engine, on disk."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from microfunnel.store.base import Store
from microfunnel.store.clickhouse import ClickHouseStore
from microfunnel.store.duckdb import DuckDBStore

# Property tests explore widely but reproducibly: the same examples on every run, so CI never
# fails on a draw no one can replay. Explore more with HYPOTHESIS_PROFILE=explore.
settings.register_profile(
    "ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("explore", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

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
