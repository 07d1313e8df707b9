"""Simulated data shared by the sim tests: generated once per session, read many times."""

from __future__ import annotations

import pyarrow as pa
import pytest

from microfunnel.sim import Planted, simulate, simulate_arrow
from microfunnel.store.base import events_to_arrow

SHOP_DAYS = 28
SHOP_VISITORS_PER_DAY = 250
BULK_EVENTS = 500_000


@pytest.fixture(scope="session")
def shop_table() -> pa.Table:
    """Four weeks of the default shop through the real Event -> row mapping."""
    events = simulate(days=SHOP_DAYS, visitors_per_day=SHOP_VISITORS_PER_DAY, seed=11)
    return events_to_arrow(events)


@pytest.fixture(scope="session")
def bulk_table() -> pa.Table:
    return simulate_arrow(BULK_EVENTS, seed=5)


@pytest.fixture(scope="session")
def planted() -> Planted:
    return Planted()
