"""Implementation of `resumable_optuna.ResumableOptunaSweeper` (kept in a module whose name starts
with "_", which Hydra's plugin scan skips, so that runs without the sweeper do not import Optuna).

An Optuna sweeper whose studies resume: `hydra.sweeper.n_trials` is the study's total.

hydra-optuna-sweeper 1.x runs `n_trials` *more* trials whenever it is started and numbers the job
folders from 0 again, so re-running an interrupted search with the same sweep dir would run too
many trials and overwrite the first trials' folders. This sweeper, before handing over to the
stock one:

- creates the sweep dir (SQLite needs it before the first job),
- settles trials left RUNNING by an interrupted sweep: those whose job had ended get the result
  from the job's job.json; the others are marked FAIL (user attr `interrupted`) and their
  parameters enqueued again, so the interrupted trial is re-run first,
- runs only `n_trials - finished` trials (finished: COMPLETE, PRUNED or FAIL, not interrupted),
- numbers the new jobs after the stored trials, so job folder N holds Optuna trial N,
- writes the sweep summary even when no trial completed (the stock sweeper raises then).
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from pathlib import Path
from typing import Any

import optuna
from hydra.core.utils import _save_config
from hydra_plugins.hydra_optuna_sweeper._impl import OptunaSweeperImpl
from optuna.trial import TrialState

log = logging.getLogger(__name__)

INTERRUPTED_ATTR = "interrupted"
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def _finished_job(sweep_dir: Path, number: int) -> dict[str, Any] | None:
    """The job.json of job folder `number` when that job ended (folder N holds trial N)."""
    path = sweep_dir / str(number) / "job.json"
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if record.get("status") in ("COMPLETED", "FAILED") else None


def prepare_resume(study: optuna.Study, n_trials: int, sweep_dir: Path) -> tuple[int, int]:
    """Settle the trials an interrupted sweep left RUNNING; return (trials still to run, next job
    number).

    A RUNNING trial whose job had ended (a batch of n_jobs > 1 killed before the sweeper told
    Optuna) gets its recorded result. One that was really cut short is marked FAIL with the user
    attr `interrupted`, and its parameters are enqueued so that it runs again first.
    """
    for trial in study.get_trials(deepcopy=False):
        if trial.state != TrialState.RUNNING:
            continue
        job = _finished_job(sweep_dir, trial.number)
        value = job.get("objective") if job else None
        if (
            job
            and job["status"] == "COMPLETED"
            and isinstance(value, int | float)
            and math.isfinite(value)
        ):
            log.info("trial %d had finished (%s); recording it", trial.number, value)
            study.tell(trial.number, value)
        elif job:
            study.tell(trial.number, state=TrialState.FAIL)
        else:
            log.warning(
                "trial %d was interrupted; marking it failed and running its parameters again",
                trial.number,
            )
            study._storage.set_trial_user_attr(trial._trial_id, INTERRUPTED_ATTR, True)
            study.tell(trial.number, state=TrialState.FAIL)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                study.enqueue_trial(dict(trial.params))
    trials = study.get_trials(deepcopy=False)
    finished = [
        t for t in trials if t.state in _FINISHED and not t.user_attrs.get(INTERRUPTED_ATTR)
    ]
    waiting = [t.number for t in trials if t.state == TrialState.WAITING]
    next_job = min(waiting) if waiting else len(trials)
    return max(n_trials - len(finished), 0), next_job


class ResumableOptunaSweeperImpl(OptunaSweeperImpl):
    def sweep(self, arguments: list[str]) -> None:
        sweep_dir = Path(str(self.sweep_dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        _save_config(self.config, "multirun.yaml", sweep_dir)
        total = self.n_trials
        if self.storage is not None and self.study_name is not None:
            study = optuna.create_study(
                study_name=self.study_name,
                storage=self.storage,
                directions=self._get_directions(),
                load_if_exists=True,
            )
            self.n_trials, self.job_idx = prepare_resume(study, total, sweep_dir)
            if self.job_idx:
                log.info(
                    "Resuming study %s: %d trials stored, %d of %d to run",
                    self.study_name,
                    self.job_idx,
                    self.n_trials,
                    total,
                )
        try:
            super().sweep(arguments)
        except ValueError as err:
            if "No trials are completed yet" not in str(err):
                raise
            self._write_summary()
            raise RuntimeError(
                f"no trial of study {self.study_name!r} completed; see {self.sweep_dir}/summary.md "
                "and the failed jobs' logs"
            ) from err

    def _write_summary(self) -> None:
        from cnngan.utils.sweep import summary_kwargs, write_summary

        write_summary(self.sweep_dir, **summary_kwargs(self.config))
