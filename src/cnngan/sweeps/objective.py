"""What a sweep optimizes: the metric name(s) and direction(s) from config, and the value a job
returns to the sweeper.

`optimized_metric` is one metric name or a list of names (multi-objective); `optimized_direction`
gives `maximize` or `minimize` for each, as a string or a list of the same length. The direction
always comes from config: a metric's name says nothing about it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from cnngan.core.errors import UserError

log = logging.getLogger(__name__)

DIRECTIONS = ("maximize", "minimize")


class TrialFailed(RuntimeError):
    """The run finished but its objective is not a finite number (divergence): the sweeper records
    the trial as failed and goes on."""


def as_names(value: Any) -> list[str]:
    """A metric or direction setting (None, a string, or a list of strings) as a list."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence):
        return [str(v) for v in value]
    raise UserError(f"expected a name or a list of names, got {value!r}")


def objective_spec(metric: Any, direction: Any) -> tuple[list[str], list[str]]:
    """(metric names, directions) with one direction per metric; a clear error otherwise."""
    names, directions = as_names(metric), as_names(direction)
    bad = [d for d in directions if d not in DIRECTIONS]
    if bad:
        raise UserError(f"optimized_direction must be maximize or minimize, got {bad}")
    if names and len(directions) != len(names):
        raise UserError(
            f"optimized_metric has {len(names)} name(s) {names} but optimized_direction has "
            f"{len(directions)} {directions}: give one direction per metric"
        )
    return names, directions


def metric_value(metrics: Mapping[str, Any], name: str) -> float:
    """The value of one optimized metric; a clear error when the name is not among the metrics."""
    if name not in metrics:
        raise UserError(
            f"optimized_metric={name!r} was not logged; logged metrics are: {sorted(metrics)}. "
            "Set optimized_metric to one of them."
        )
    return float(metrics[name])


def sweep_objective(
    metrics: Mapping[str, Any], metric: Any, in_multirun: bool = False
) -> float | list[float] | None:
    """The value a job returns to a sweeper: a float for one metric, a list for several.

    `in_multirun`: whether this job belongs to a sweep (the caller knows; see
    `cnngan.run.entry.in_multirun`). A NaN/inf objective inside a multirun raises `TrialFailed`: the job is marked failed and an
    Optuna sweeper records a FAIL trial (a FAIL trial cannot carry values).
    """
    names = as_names(metric)
    if not names:
        return None
    if not in_multirun and any(name not in metrics for name in names):
        return None  # one run (e.g. train=false: a test only) has no sweeper to answer
    values = [metric_value(metrics, name) for name in names]
    if not all(math.isfinite(v) for v in values):
        shown = ", ".join(f"{n}={v}" for n, v in zip(names, values, strict=True))
        if in_multirun:
            raise TrialFailed(f"objective {shown}: the run diverged; the trial is recorded failed")
        log.warning("objective %s is not finite: the run diverged", shown)
    return values[0] if isinstance(metric, str) else values
