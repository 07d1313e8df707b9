"""The web dashboard: HTML pages over the analytics library, served by the same FastAPI app.

Pages render what the library computes (``microfunnel.analytics``, ``microfunnel.experiments``);
they hold no SQL and no statistics. Results are cached per project and invalidated when the
writer applies a new batch (:mod:`.cache`). Charts are drawn by ``static/charts.js`` as SVG,
so the dashboard and the HTML report work offline.
"""
