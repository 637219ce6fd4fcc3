"""Medians and geometric means over rounds, and their intervals: how far a ratio can be trusted."""

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


RESOLUTION = 0.03  # the framework-cost goal: a ratio known to +/-3%


def log_ratio_interval(
    ratios: Sequence[float], level: float = 0.95, resolution: float = RESOLUTION
) -> dict[str, Any]:
    """The geometric mean of paired ratios and its t-interval, taken on the log ratios.

    A ratio of speeds is multiplicative (twice as fast and half as fast are symmetric in log
    space), and a log ratio of two runs that share the machine's load is close to normal, so the
    t-interval of the mean log ratio, mapped back with exp, is the interval of the geometric mean.
    Unlike the order-statistics interval of the median it uses every value, so it narrows like
    1/sqrt(rounds). `halfwidth` is half its width in ratio units; `resolved` says whether it is
    within +/-`resolution` (an interval too wide cannot tell a 3% framework cost from none).
    """
    logs = [math.log(r) for r in ratios if r > 0]
    n = len(logs)
    if n < 2:
        nan = math.nan
        gmean = math.exp(logs[0]) if logs else nan
        return {"gmean": gmean, "t_low": nan, "t_high": nan, "halfwidth": nan, "resolved": False}
    from scipy.stats import t

    mean, sd = statistics.fmean(logs), statistics.stdev(logs)
    margin = float(t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    low, high = math.exp(mean - margin), math.exp(mean + margin)
    return {
        "gmean": math.exp(mean),
        "t_low": low,
        "t_high": high,
        "t_level": level,
        "log_sd": sd,
        "halfwidth": (high - low) / 2,
        "resolution": resolution,
        "resolved": (high - low) / 2 <= resolution,
    }


def rounds_to_resolve(
    log_sd: float, level: float = 0.95, resolution: float = RESOLUTION, most: int = 200
) -> int:
    """Rounds whose t-interval would have a half-width within `resolution` (in ratio units, for a
    ratio near 1) at a spread `log_sd` of the log ratios: how to size the next run."""
    from scipy.stats import t

    for n in range(3, most + 1):
        if float(t.ppf(0.5 + level / 2, n - 1)) * log_sd / math.sqrt(n) <= resolution:
            return n
    return most
