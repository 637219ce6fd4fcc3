"""Resume: the same sweep dir (same storage and study name) continues the study.

`n_trials` is the study's total, so a resumed sweep runs only the rest. Trials that an interrupted
sweep (a crash, SIGKILL, a preempted node) left RUNNING are settled first: one whose job had ended
gets the result from its job.json; one that was really cut short is interrupted (FAIL, user attr
`interrupted`) and its parameters are enqueued so that it runs again first (cnngan.sweeps.reruns).

Several sweeps may share one study (a database server, docs/search.md): a sweep settles only the
RUNNING trials of its own sweep dir (user attr `job_dir`); another sweep's trials are left to that
sweep, or, once their jobs stop beating, to `optuna.storages.fail_stale_trials`.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from cnngan.sweeps.records import finished_job, finite_objective
from cnngan.sweeps.reruns import interrupt, trials_used

log = logging.getLogger(__name__)

JOB_DIR_ATTR = "job_dir"


def settle(study: optuna.Study, trial: FrozenTrial, sweep_dir: Path, max_retry: int | None) -> str:
    """Settle a RUNNING trial whose job has ended or is gone, from its job folder's job.json;
    return the state told."""
    job = finished_job(sweep_dir, trial.number)
    values = finite_objective(job.get("objective")) if job else None
    if job and job["status"] == "COMPLETED" and values and len(values) == len(study.directions):
        log.info("trial %d had finished (%s); recording it", trial.number, values)
        study.tell(trial.number, values)
        return TrialState.COMPLETE.name
    if job:
        state = TrialState.PRUNED if job["status"] == "PRUNED" else TrialState.FAIL
        study.tell(trial.number, state=state)
        return state.name
    interrupt(
        study, trial, f"job {sweep_dir / str(trial.number)} ended without a result", max_retry
    )
    return TrialState.FAIL.name


def _own(trial: FrozenTrial, sweep_dir: Path) -> bool:
    """The trial was asked by a sweep of this sweep dir (or by one that did not record it)."""
    job_dir = trial.user_attrs.get(JOB_DIR_ATTR)
    return job_dir is None or Path(job_dir).parent == sweep_dir.resolve()


def fail_stale(study: optuna.Study) -> None:
    """Fail the RUNNING trials whose job stopped beating (rerun by the storage's callback)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def prepare_resume(
    study: optuna.Study, n_trials: int, sweep_dir: Path, max_retry: int | None = 3
) -> int:
    """Settle the trials an interrupted sweep of this sweep dir left RUNNING; return how many
    trials are still to run (`n_trials` minus those finished or running, reruns not counted)."""
    fail_stale(study)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if _own(trial, sweep_dir):
            settle(study, trial, sweep_dir, max_retry)
    used = trials_used(study)
    if used:
        log.info(
            "Resuming study %s: %d of %d trials done or running", study.study_name, used, n_trials
        )
    return max(n_trials - used, 0)
