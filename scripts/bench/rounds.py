"""Alternating rounds: every comparison is measured as back-to-back pairs, in every round.

In round r the comparisons run in an order rotated by r, and each pair runs numerator first in
even rounds, denominator first in odd ones; a pair shared by two comparisons runs once per round.
A ratio is taken within a pair, so a change of load on a shared machine between pairs cancels.
A pair that `measure_pair` can time in one go (cnngan against a plain loop: interleaved blocks,
bench/interleave.py) is measured that way, so that a change of load within the pair cancels too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.stats import log_ratio_interval, summarize
from bench.timing import Seconds

Speed = tuple[float, float]  # (images/wall s, images/CPU s)
Measure = Callable[[str], Speed]  # contender -> its speed
# (first, second) -> both speeds measured together, or None where the pair cannot be
MeasurePair = Callable[[str, str], dict[str, Speed] | None]


def pair_order(pairs: list[tuple[str, str]], round_index: int) -> list[tuple[str, str]]:
    """The pairs of one round in run order: rotated by the round, each pair flipped in odd rounds."""
    shift = round_index % max(len(pairs), 1)
    rotated = pairs[shift:] + pairs[:shift]
    return [(b, a) if round_index % 2 else (a, b) for a, b in rotated]


def run_rounds(
    comparisons: dict[str, tuple[str, str]],
    rounds: int,
    measure: Measure,
    report: Callable,
    measure_pair: MeasurePair | None = None,
) -> tuple[dict[str, list[tuple[float, float]]], dict[str, list[tuple[float, float]]]]:
    """Measure every comparison (name -> (numerator, denominator)) in `rounds` rounds.

    Returns (per-contender speeds, per-comparison ratios), each a list of (wall, CPU) values."""
    pairs = list(dict.fromkeys(comparisons.values()))
    speeds: dict[str, list[tuple[float, float]]] = {}
    ratios: dict[str, list[tuple[float, float]]] = {name: [] for name in comparisons}
    for r in range(rounds):
        for first, second in pair_order(pairs, r):
            together = measure_pair(first, second) if measure_pair is not None else None
            measured = together or {}
            for name in (first, second):
                if together is None:
                    measured[name] = measure(name)
                speeds.setdefault(name, []).append(measured[name])
                report(r, name, measured[name])
            for comparison, (num, den) in comparisons.items():
                if {num, den} == {first, second}:
                    (nw, nc), (dw, dc) = measured[num], measured[den]
                    ratios[comparison].append((nw / dw, nc / dc))
    return speeds, ratios


def speed_summary(runs: list[tuple[float, float]]) -> dict[str, Any]:
    return {
        "imgs_per_s": summarize([w for w, _ in runs]),
        "imgs_per_cpu_s": summarize([c for _, c in runs]),
    }


def ratio_summary(runs: list[tuple[float, float]]) -> dict[str, Any]:
    """Median with its order-statistics interval, and the geometric mean with its t-interval on
    log ratios (bench/stats.py), of the wall-clock and the CPU-time ratios."""
    return {
        clock: summarize(values) | log_ratio_interval(values)
        for clock, values in (("wall", [w for w, _ in runs]), ("cpu", [c for _, c in runs]))
    }


def images_per_second(images: int, seconds: Seconds) -> tuple[float, float]:
    wall, cpu = seconds
    return images / wall, images / max(cpu, 1e-9)
