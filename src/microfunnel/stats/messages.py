"""Machine-readable warning codes carried by results instead of exceptions.

Degenerate data (an empty arm, a metric with no variance) is a normal state of a young
experiment, so analyses return a neutral result (p-value 1, effect 0, chance to win 0.5)
with one of these codes in ``warnings`` rather than raising.
"""

from __future__ import annotations

from typing import Literal

WarningCode = Literal[
    "EMPTY_ARM",
    "SMALL_SAMPLE",
    "ZERO_VARIANCE",
    "ZERO_BASELINE",
    "ZERO_DENOMINATOR",
    "ZERO_COVARIATE_VARIANCE",
    "NO_DATA",
]

EMPTY_ARM: WarningCode = "EMPTY_ARM"
"""An arm has no units: nothing can be estimated."""
SMALL_SAMPLE: WarningCode = "SMALL_SAMPLE"
"""An arm has a single unit, so its sample variance is undefined."""
ZERO_VARIANCE: WarningCode = "ZERO_VARIANCE"
"""Both arms are constant (for example rates of exactly 0 or 1): no test is possible."""
ZERO_BASELINE: WarningCode = "ZERO_BASELINE"
"""The control mean is 0, so the relative lift is undefined and reported as 0."""
ZERO_DENOMINATOR: WarningCode = "ZERO_DENOMINATOR"
"""A ratio metric's denominator sums to 0."""
ZERO_COVARIATE_VARIANCE: WarningCode = "ZERO_COVARIATE_VARIANCE"
"""The CUPED covariate is constant, so no adjustment was made (theta = 0)."""
NO_DATA: WarningCode = "NO_DATA"
"""No observations at all (for example an SRM check with zero users)."""
