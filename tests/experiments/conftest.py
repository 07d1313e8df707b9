"""A simulated shop with the planted experiments, loaded once into DuckDB, and its definitions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from microfunnel.events.plan import TrackingPlan
from microfunnel.experiments.definitions import Definitions, parse_definitions
from microfunnel.sim import DEFAULT_START, Planted, simulate_arrow
from microfunnel.sim.experiments import demo_experiments_yaml
from microfunnel.store.duckdb import DuckDBStore

SHOP_EVENTS = 600_000
SHOP_SEED = 3


@pytest.fixture(scope="session")
def planted() -> Planted:
    return Planted()


@pytest.fixture(scope="session")
def definitions() -> Definitions:
    raw = yaml.safe_load(demo_experiments_yaml())
    return parse_definitions(raw, events=TrackingPlan.default().event_names)


@pytest.fixture(scope="session")
def before_break(planted: Planted) -> datetime:
    """The moment the planted tracking break starts (analyses up to here see clean data)."""
    assert planted.tracking_break_day is not None
    start = datetime(DEFAULT_START.year, DEFAULT_START.month, DEFAULT_START.day, tzinfo=UTC)
    return start + timedelta(days=planted.tracking_break_day)


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBStore]:
    folder = Path(tmp_path_factory.mktemp("experiment-shop"))
    store = DuckDBStore(folder / "events.duckdb")
    store.insert_arrow(simulate_arrow(SHOP_EVENTS, seed=SHOP_SEED))
    yield store
    store.close()
