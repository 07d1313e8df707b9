"""Events: the model, the tracking plan, validation, privacy, identity and sessions."""

from microfunnel.events.model import Event, correct_skew, new_event_id, utcnow

__all__ = ["Event", "correct_skew", "new_event_id", "utcnow"]
