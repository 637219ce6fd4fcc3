"""Interrupted trials: told FAIL and run again with the same parameters, so none is lost.

A trial is interrupted when its job ended without a result: killed, cancelled, its node lost, its
heartbeat gone stale (`optuna.storages.fail_stale_trials`), or its sweep was killed first. It is
recorded FAIL with the user attr `interrupted` (and `error`: why), and a copy of its parameters is
enqueued (user attrs `rerun_of`: the first trial of the series, `attempt`: 2, 3, ...) so the next
trial asked is the rerun. After `max_retry` reruns of one series the trial stays FAIL and counts.

A rerun replaces its interrupted trial in the budget: `n_trials` counts trials that ran to an
end (or still run), not the attempts cut short.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import optuna
from optuna.trial import FrozenTrial, TrialState

log = logging.getLogger(__name__)

INTERRUPTED_ATTR = "interrupted"
RERUN_OF_ATTR = "rerun_of"
ATTEMPT_ATTR = "attempt"
_COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)


def may_rerun(trial: FrozenTrial, max_retry: int | None) -> bool:
    """Whether this trial's series has reruns left (None: no limit)."""
    return max_retry is None or int(trial.user_attrs.get(ATTEMPT_ATTR, 1)) <= max_retry


def enqueue_rerun(study: optuna.Study, trial: FrozenTrial) -> None:
    """Queue the trial's parameters again (the next `study.ask` takes them)."""
    first = trial.user_attrs.get(RERUN_OF_ATTR, trial.number)
    attempt = int(trial.user_attrs.get(ATTEMPT_ATTR, 1)) + 1
    study.enqueue_trial(
        dict(trial.params), user_attrs={RERUN_OF_ATTR: first, ATTEMPT_ATTR: attempt}
    )
    log.warning(
        "trial %d was interrupted; its parameters run again (attempt %d)", trial.number, attempt
    )


def interrupt(study: optuna.Study, trial: FrozenTrial, reason: str, max_retry: int | None) -> None:
    """Settle a RUNNING trial whose job ended without a result: FAIL, then rerun if allowed."""
    live = optuna.trial.Trial(study, trial._trial_id)  # no public way from a FrozenTrial
    rerun = may_rerun(trial, max_retry)
    live.set_user_attr("error", reason)
    if rerun:
        live.set_user_attr(INTERRUPTED_ATTR, True)
    study.tell(trial.number, state=TrialState.FAIL)
    if rerun:
        enqueue_rerun(study, trial)
    else:
        log.warning(
            "trial %d was interrupted; no rerun left (max_retry=%s)", trial.number, max_retry
        )


def stale_trial_callback(max_retry: int | None) -> Callable[[optuna.Study, FrozenTrial], None]:
    """For `RDBStorage(heartbeat_stale_trial_callback=...)`: rerun a trial that Optuna failed
    because its job's heartbeat went stale (the trial is FAIL already: no attrs can be added)."""

    def rerun_stale(study: optuna.Study, trial: FrozenTrial) -> None:
        if may_rerun(trial, max_retry):
            enqueue_rerun(study, trial)

    return rerun_stale


def replaced(trials: Iterable[FrozenTrial]) -> set[int]:
    """Numbers of the trials a rerun replaces (the failed attempt before each rerun)."""
    trials = list(trials)
    by_series: dict[int, list[FrozenTrial]] = {}
    for trial in trials:
        first = trial.user_attrs.get(RERUN_OF_ATTR, trial.number)
        by_series.setdefault(int(first), []).append(trial)
    out = {t.number for t in trials if t.user_attrs.get(INTERRUPTED_ATTR)}
    for series in by_series.values():
        if len(series) > 1:  # every attempt but the last was cut short
            out |= {t.number for t in sorted(series, key=lambda t: t.number)[:-1]}
    return out


def trials_used(study: optuna.Study) -> int:
    """Trials that count against `n_trials`: finished or running, and not replaced by a rerun."""
    trials = study.get_trials(deepcopy=False)
    skip = replaced(trials)
    return sum(1 for t in trials if t.state in _COUNTED and t.number not in skip)
