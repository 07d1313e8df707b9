"""Events: the model, the tracking plan, validation, privacy, identity and sessions."""

from microfunnel.events.model import Event, correct_skew, new_event_id, utcnow
from microfunnel.events.plan import TrackingPlan, default_plan_text
from microfunnel.events.privacy import PrivacySettings, apply_privacy
from microfunnel.events.sessions import Sessionizer, assign_sessions

__all__ = [
    "Event",
    "PrivacySettings",
    "Sessionizer",
    "TrackingPlan",
    "apply_privacy",
    "assign_sessions",
    "correct_skew",
    "default_plan_text",
    "new_event_id",
    "utcnow",
]
