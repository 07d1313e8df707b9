"""Data for the analytics tests: hand-made events (``ev``), and one simulated shop per engine.

The shop is generated once per test session and loaded once into each engine; tests read it
through ``shop`` (parametrized like ``store``), and compare engines through ``shop_stores``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from microfunnel.events.model import Event
from microfunnel.sim import DEFAULT_START, Planted, simulate
from microfunnel.store.base import Store, events_to_arrow
from microfunnel.store.clickhouse import ClickHouseStore
from microfunnel.store.duckdb import DuckDBStore

SHOP_DAYS = 28
SHOP_VISITORS_PER_DAY = 300
SHOP_SEED = 7
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def make_event(
    name: str,
    person: str,
    minutes: float = 0.0,
    *,
    session: str | None = None,
    device: str = "desktop",
    start: datetime = T0,
    properties: dict[str, Any] | None = None,
    **context: Any,
) -> Event:
    """One hand-made event ``minutes`` after ``start``."""
    t = start + timedelta(minutes=minutes)
    return Event(
        event=name,
        event_id=f"{person}-{name}-{minutes}-{session}",
        anonymous_id=person,
        session_id=session or f"s-{person}",
        timestamp=t,
        received_at=t + timedelta(seconds=1),
        properties=properties or {},
        context={"device": device, **context},
    )


@pytest.fixture
def ev() -> Callable[..., Event]:
    """The hand-made event factory, for tests."""
    return make_event


ENGINES = ["duckdb", "clickhouse"]


@pytest.fixture(scope="session")
def shop_table() -> pa.Table:
    events = simulate(days=SHOP_DAYS, visitors_per_day=SHOP_VISITORS_PER_DAY, seed=SHOP_SEED)
    return events_to_arrow(events)


@pytest.fixture(scope="session")
def planted() -> Planted:
    return Planted()


@pytest.fixture(scope="session")
def shop_start() -> Any:
    return DEFAULT_START


@pytest.fixture(scope="session")
def shop_stores(
    shop_table: pa.Table, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Store]]:
    stores: dict[str, Store] = {}
    for engine in ENGINES:
        folder = Path(tmp_path_factory.mktemp(f"shop-{engine}"))
        s: Store = (
            DuckDBStore(folder / "events.duckdb")
            if engine == "duckdb"
            else ClickHouseStore(folder / "chdb")
        )
        s.insert_arrow(shop_table)
        stores[engine] = s
    yield stores
    for s in stores.values():
        s.close()


@pytest.fixture(params=ENGINES)
def shop(request: pytest.FixtureRequest, shop_stores: dict[str, Store]) -> Store:
    return shop_stores[request.param]
