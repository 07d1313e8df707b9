"""microfunnel: micro-conversion analytics and precision A/B testing for e-commerce funnels.

>>> from microfunnel import Event
>>> Event(event="add_to_cart", properties={"currency": "EUR", "value": 19.99}).event
'add_to_cart'
"""

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
