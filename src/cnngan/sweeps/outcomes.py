"""How a job's outcome reaches its trial.

- A job that returned: COMPLETE with its objective; PRUNED when it raised `optuna.TrialPruned`;
  FAIL (user attr `error`) when it failed or returned a non-finite objective.
- A launch that raised instead of returning (the job was killed, cancelled, lost its node, or
  the launcher lost it): the job folder's job.json is read, and without one the trial is
  interrupted and rerun (cnngan.sweeps.resume.settle, cnngan.sweeps.reruns).
- A trial that was settled elsewhere meanwhile (its heartbeat went stale, another sweep of the
  same study failed it) is left as it is.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from cnngan.sweeps.records import finite_objective, job_outcome
from cnngan.sweeps.resume import settle

log = logging.getLogger(__name__)


def tell(study: optuna.Study, trial: optuna.Trial, job_return: Any) -> str:
    """Record a job's outcome in its trial; return the state told."""
    status, value = job_outcome(job_return)
    values = finite_objective(value) if status == "COMPLETED" else None
    if status == "PRUNED":
        state, values = TrialState.PRUNED, None
    elif values is not None and len(values) == len(study.directions):
        state = TrialState.COMPLETE
    else:
        error = f"{type(value).__name__}: {value}" if status != "COMPLETED" else None
        trial.set_user_attr(
            "error", error or f"objective {value!r} is not a finite value per metric"
        )
        state, values = TrialState.FAIL, None
    try:
        study.tell(trial, values, state=state)
    except RuntimeError as err:  # the grid sampler stops the study when its grid is done
        if "Study.stop" not in str(err):
            raise
    return state.name


def frozen_trial(study: optuna.Study, number: int) -> FrozenTrial:
    return next(t for t in study.get_trials(deepcopy=False) if t.number == number)


def record_launch(
    study: optuna.Study,
    trial: optuna.Trial,
    result: Any,
    sweep_dir: Path,
    max_retry: int | None,
) -> str:
    """Tell a trial what its launch gave: a JobReturn, or the exception the launch raised."""
    current = frozen_trial(study, trial.number)
    if current.state != TrialState.RUNNING:
        log.warning(
            "trial %d was settled meanwhile (%s); its job's result is not told",
            trial.number,
            current.state.name,
        )
        return current.state.name
    if isinstance(result, BaseException):
        log.warning(
            "trial %d: its job ended without a result: %s", trial.number, _first_line(result)
        )
        return settle(study, current, sweep_dir, max_retry)
    return tell(study, trial, result)


def _first_line(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text.splitlines()[0][:300]
