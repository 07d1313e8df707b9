"""microfunnel: micro-conversion analytics and precision A/B testing for e-commerce funnels."""

from microfunnel.errors import MicrofunnelError
from microfunnel.events.model import Event

__all__ = ["Event", "MicrofunnelError", "__version__"]
__version__ = "0.1.0"
