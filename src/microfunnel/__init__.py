"""microfunnel: micro-conversion analytics and precision A/B testing for e-commerce funnels.

>>> from microfunnel import Event
>>> Event(event="add_to_cart", properties={"currency": "EUR", "value": 19.99}).event
'add_to_cart'
"""

import os

# DuckDB allocates through its own jemalloc, which returns the pages an insert freed to the
# system after one second; under steady ingest the writer's next batches then fault them in
# again: most of its page faults and about half its system time. Ten seconds keeps them for
# the next batches. jemalloc reads this once, when DuckDB is first imported (hence
# here, before any module imports it); a value set in the environment wins.
os.environ.setdefault("DUCKDB_JE_MALLOC_CONF", "dirty_decay_ms:10000")

from microfunnel.config import Project, Settings
from microfunnel.errors import MicrofunnelError
from microfunnel.events import Event, PrivacySettings, TrackingPlan
from microfunnel.project import init_project
from microfunnel.store import Store

__all__ = [
    "Event",
    "MicrofunnelError",
    "PrivacySettings",
    "Project",
    "Settings",
    "Store",
    "TrackingPlan",
    "__version__",
    "init_project",
]
__version__ = "0.1.0"
