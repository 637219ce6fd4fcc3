"""Paired differences over seeds and their t-interval."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from scipy import stats


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): Student's t confidence interval of the mean; low = high = nan for
    fewer than two values."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = statistics.fmean(values)
    if n < 2:
        return mean, math.nan, math.nan
    half = stats.t.ppf(0.5 + level / 2, n - 1) * statistics.stdev(values) / math.sqrt(n)
    return mean, mean - half, mean + half


def paired(
    real: dict[int, float], synthetic: dict[int, float]
) -> tuple[list[int], list[float], list[float]]:
    """Seeds present in both arms, and the two arms' values on those seeds, in seed order."""
    seeds = sorted(set(real) & set(synthetic))
    return seeds, [real[s] for s in seeds], [synthetic[s] for s in seeds]


def verdict(low: float, high: float) -> str:
    """helps / hurts when the interval excludes zero, else no clear effect."""
    if math.isnan(low) or math.isnan(high):
        return "n < 2"
    if low > 0:
        return "helps"
    if high < 0:
        return "hurts"
    return "no clear effect"
