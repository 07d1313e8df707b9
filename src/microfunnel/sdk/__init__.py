"""Track events and evaluate feature flags from Python, against a microfunnel collector.

>>> from microfunnel.sdk import Client, MockSink
>>> sink = MockSink()
>>> client = Client("wk_live_123", "https://collect.example.com", transport=sink)
>>> event_id = client.track("view_item", {"currency": "EUR", "value": 30}, anonymous_id="a1")
>>> client.flush()
True
>>> sink.events[0]["event_id"] == event_id
True
>>> client.shutdown()

The browser snippet lives beside this package in ``static/microfunnel.js``.
"""

from microfunnel.sdk.client import Client, EventFields
from microfunnel.sdk.flags import Exposure, Flags
from microfunnel.sdk.mock import MockSink, Received
from microfunnel.sdk.transport import Outcome, RetryPolicy

__all__ = [
    "Client",
    "EventFields",
    "Exposure",
    "Flags",
    "MockSink",
    "Outcome",
    "Received",
    "RetryPolicy",
]
