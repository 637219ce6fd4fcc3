"""Resume: the same sweep dir (same storage and study name) continues the study.

`n_trials` is the study's total, so a resumed sweep runs only the rest. Trials that an interrupted
sweep (a crash, SIGKILL, a preempted node) left RUNNING are settled first: one whose job had ended
gets the result from its job.json; one that was really cut short is marked FAIL with the user attr
`interrupted`, and its parameters are enqueued so that it runs again first.
"""

from __future__ import annotations

import logging
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from cnngan.sweeps.records import finished_job, finite_objective

log = logging.getLogger(__name__)

INTERRUPTED_ATTR = "interrupted"
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def _live_trial(study: optuna.Study, trial: FrozenTrial) -> optuna.Trial:
    """A stored RUNNING trial as a `Trial` (Optuna has no public way from a FrozenTrial)."""
    return optuna.trial.Trial(study, trial._trial_id)


def _settle(study: optuna.Study, trial: FrozenTrial, sweep_dir: Path) -> None:
    job = finished_job(sweep_dir, trial.number)
    values = finite_objective(job.get("objective")) if job else None
    if job and job["status"] == "COMPLETED" and values and len(values) == len(study.directions):
        log.info("trial %d had finished (%s); recording it", trial.number, values)
        study.tell(trial.number, values)
    elif job:
        state = TrialState.PRUNED if job["status"] == "PRUNED" else TrialState.FAIL
        study.tell(trial.number, state=state)
    else:
        log.warning("trial %d was interrupted; marking it failed and rerunning it", trial.number)
        _live_trial(study, trial).set_user_attr(INTERRUPTED_ATTR, True)
        study.tell(trial.number, state=TrialState.FAIL)
        study.enqueue_trial(dict(trial.params))


def prepare_resume(study: optuna.Study, n_trials: int, sweep_dir: Path) -> int:
    """Settle the trials an interrupted sweep left RUNNING; return how many trials are still to
    run (finished: COMPLETE, PRUNED or FAIL, not interrupted)."""
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        _settle(study, trial, sweep_dir)
    finished = [
        t
        for t in study.get_trials(deepcopy=False, states=_FINISHED)
        if not t.user_attrs.get(INTERRUPTED_ATTR)
    ]
    if finished:
        log.info(
            "Resuming study %s: %d of %d trials done", study.study_name, len(finished), n_trials
        )
    return max(n_trials - len(finished), 0)
