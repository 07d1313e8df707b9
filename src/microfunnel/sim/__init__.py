"""A seeded, simulated shop with planted, known effects: the demo, the tests, the benchmarks.

Two generators share one shop model (``catalog.py``) and one set of planted effects
(:class:`Planted`):

- :func:`simulate` yields :class:`~microfunnel.events.Event` objects visitor by visitor, with
  full GA4-style properties and context; it feeds the demo through the real collector and the
  analysis tests.
- :func:`simulate_arrow` / :func:`iter_arrow_chunks` build the ``events`` table directly with
  numpy (tens of millions of rows) for the benchmarks.

``README.md`` in this package describes the shop and every planted effect in plain words.
"""

from microfunnel.sim.bulk import iter_arrow_chunks, simulate_arrow
from microfunnel.sim.planted import Planted
from microfunnel.sim.shop import DEFAULT_START, simulate

__all__ = ["DEFAULT_START", "Planted", "iter_arrow_chunks", "simulate", "simulate_arrow"]
