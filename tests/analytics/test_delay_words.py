"""Arrival delays in words (microfunnel.analytics.quality.delay_words), as the dashboard and
the CLI show them."""

from __future__ import annotations

import math

from microfunnel.analytics.quality import delay_words as delay
from microfunnel.server.dashboard.render import environment


def test_delay_reads_in_the_unit_that_fits() -> None:
    assert delay(0) == "0 s"
    assert delay(42) == "42 s"
    assert delay(-30) == "-30 s"  # a client clock ahead of the server's
    assert delay(119) == "119 s"
    assert delay(210) == "3.5 min"
    assert delay(-3600) == "-1.0 h"
    assert delay(7200) == "2.0 h"


def test_delay_at_the_query_clip_is_a_bound_not_a_value() -> None:
    # the quality query clips delays at 86,400 s: backfilled events are "a day or more" late
    assert delay(86400) == "≥ 1 day"
    assert delay(None) == delay(math.nan) == "–"


def test_the_dashboard_filter_is_the_same_words() -> None:
    assert environment().filters["delay"](86400) == "≥ 1 day"
