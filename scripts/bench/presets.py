"""How much `make bench` measures: the --quick and --full presets, and the run's expected
duration, estimated from one calibration pair per model before the rounds start.

Sizing (--full): a ratio's 95% t-interval on log ratios has the half-width
t(0.975, n-1) x sd / sqrt(n) for n rounds, sd the spread of one round's log ratio: 10 rounds
resolve +/-0.03 up to sd = 0.041. Pairs run one after the other (60 steps) had sd 0.12
(classifier) and 0.05 (GAN) on a 2-core machine; interleaved pairs of 200 steps per side are
meant to bring it under 0.041 (not yet measured on a quiet machine). Where a run does not
resolve +/-0.03, results.json says how many rounds would (`rounds_to_resolve`, from its own sd).
"""

from __future__ import annotations

import math
from typing import Any

from bench.stats import rounds_to_resolve

PRESETS: dict[str, dict[str, Any]] = {
    # a smoke run: every part runs once, small (about 1-2 minutes on a quiet 2-core machine)
    "quick": {
        "comparisons": "framework",
        "steps": 25,
        "warmup": 5,
        "rounds": 3,
        "block": 25,
        "startup_runs": 0,
        "profile_steps": 5,
        "augment_images": 1024,
        "quick_peaks": True,
    },
    # what `make bench` reports: sized to resolve +/-0.03, and bf16 where the machine runs it
    # natively (cnngan's precision=auto picks it there)
    "full": {
        "comparisons": "framework,competent,torch_defaults,bf16-if-native",
        "steps": 200,
        "warmup": 10,
        "rounds": 10,
        "block": 25,
        "startup_runs": 2,
        "profile_steps": 30,
        "augment_images": 8192,
        "quick_peaks": False,
    },
}

STARTUP_S = 20.0  # a guess per cnngan-train start-up run (process start to first step)


def expand_comparisons(option: str, auto_precision: str) -> str:
    """`bf16-if-native` -> `bf16` where cnngan's precision=auto picks bf16-mixed, else nothing."""
    native = auto_precision == "bf16-mixed"
    names = [("bf16" if native else "") if n == "bf16-if-native" else n for n in option.split(",")]
    return ",".join(n for n in names if n)


def round_seconds(
    pairs: list[tuple[str, str]], per_step: dict[str, float], build_s: float, steps: int
) -> float:
    """Seconds of one round: every pair builds both sides and runs their steps (a contender not
    calibrated takes the time of the calibrated one on its side, cnngan's or the plain loop's)."""

    def step_s(name: str) -> float:
        return per_step.get(name, per_step["plain" if name.startswith("plain") else "cnngan"])

    return sum(build_s + steps * (step_s(a) + step_s(b)) for a, b in pairs)


def estimate_seconds(calibration: dict[str, dict[str, Any]], args: Any) -> float:
    """The whole run, from each model's calibration (seconds per step of cnngan and of the plain
    loop, and the set-up seconds of a pair): rounds, start-ups, GAN profile, utilisation."""
    total = 0.0
    for task, cal in calibration.items():
        steps = args.warmup + args.steps
        total += args.rounds * round_seconds(cal["pairs"], cal["per_step"], cal["build_s"], steps)
        total += args.startup_runs * STARTUP_S
        if task == "gan" and args.profile_steps > 0:  # profiled steps run about 2x slower
            total += 2 * (args.warmup + args.profile_steps) * sum(cal["per_step"].values())
        total += cal["build_s"]  # the FLOP count's short fit
    return total + 30.0  # peaks (a few seconds per precision) and the augmentation micro-benchmark


def resolve_advice(comparisons: dict[str, Any], rounds: int) -> dict[str, int]:
    """Per comparison whose wall-clock interval is not resolved: the rounds that would resolve
    it at the spread this run saw."""
    advice = {}
    for name, comp in comparisons.items():
        wall = comp.get("wall", {})
        sd = wall.get("log_sd")
        if sd is not None and not math.isnan(sd) and not wall.get("resolved"):
            advice[name] = max(rounds_to_resolve(sd), rounds + 1)
    return advice
