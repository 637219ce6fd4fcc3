"""Medians and their spread over rounds: how far a ratio can be trusted."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any


def median_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """A distribution-free confidence interval of the median: (low, high, achieved coverage).

    The interval between the k-th smallest and k-th largest value covers the median with
    probability 1 - 2 P(Binomial(n, 1/2) < k); k is the largest with coverage >= `level`, or 1
    (min .. max) when n is too small to reach it.
    """
    xs, n = sorted(values), len(values)
    if n == 0:
        return math.nan, math.nan, 0.0

    def coverage(k: int) -> float:
        tail = sum(math.comb(n, i) for i in range(k)) / 2**n
        return 1.0 - 2.0 * tail

    k = 1
    while k + 1 <= (n + 1) // 2 and coverage(k + 1) >= level:
        k += 1
    return xs[k - 1], xs[n - k], coverage(k)


def summarize(values: Sequence[float], level: float = 0.95) -> dict[str, Any]:
    """Median, its confidence interval (and half-width relative to the median), min, max."""
    low, high, achieved = median_ci(values, level)
    median = statistics.median(values) if values else math.nan
    return {
        "median": median,
        "ci_low": low,
        "ci_high": high,
        "ci_level": round(achieved, 4),
        "ci_halfwidth_rel": (high - low) / 2 / median if values and median else math.nan,
        "min": min(values, default=math.nan),
        "max": max(values, default=math.nan),
        "n": len(values),
        "values": [round(v, 4) for v in values],
    }
