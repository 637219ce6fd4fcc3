"""The sweep loop of `CnnganOptunaSweeper`: open (or resume) the study, then ask trials, launch
one Hydra job per trial, tell each trial its job's outcome.

- Job folder N holds trial N; each job is told its trial through `optuna_trial` (storage URL,
  study name, trial number, heartbeat period), which the pruning callback uses to report and to
  stop early, and the `TrialHeartbeat` Hydra callback to say that the job is alive.
- A job that raised `optuna.TrialPruned` is told PRUNED; one that failed or returned a non-finite
  objective FAIL (user attr `error`); the study goes on. A job that ended without a result is
  interrupted and its parameters run again (cnngan.sweeps.reruns).
- Launchers that run jobs here (basic, joblib): batches of `n_jobs`; `Launcher.launch` returns when
  every job of the batch has ended, so a finished or pruned trial's slot is refilled with the next
  batch. Launchers that submit jobs to a scheduler (SLURM): each trial is its own job and a slot
  is refilled as soon as its trial ends (cnngan.sweeps.slots).
- The storage is any SQLAlchemy URL: SQLite in the sweep dir by default (one machine), or a
  database server that jobs on several machines reach (PostgreSQL, docs/search.md).
"""

from __future__ import annotations

import copy
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
from omegaconf import DictConfig, OmegaConf, open_dict, read_write
from optuna.trial import TrialState

from cnngan.core.errors import UserError
from cnngan.sweeps.optuna_storage import PRUNER_ATTR, build_sampler, pruner_spec, rdb_storage
from cnngan.sweeps.outcomes import tell
from cnngan.sweeps.reruns import stale_trial_callback, trials_used
from cnngan.sweeps.resume import JOB_DIR_ATTR, prepare_resume, settle
from cnngan.sweeps.search_space import as_override, grid_of, quote, search_space
from cnngan.sweeps.settings import StudySettings
from cnngan.sweeps.slots import launch_in_thread, run_in_slots, submits_jobs
from cnngan.sweeps.summary import summary_kwargs, write_summary

__all__ = ["StudySettings", "open_study", "run_study", "tell", "trial_override"]

log = logging.getLogger(__name__)


def open_study(settings: StudySettings, space: dict[str, Any]) -> optuna.Study:
    """Create the study, or load it to continue (same storage and name)."""
    grid = grid_of(space) if settings.sampler == "grid" else None
    sampler = build_sampler(settings.sampler, settings.sampler_args, settings.seed, grid)
    storage = rdb_storage(
        settings.storage,
        settings.heartbeat_s,
        settings.grace_s,
        stale_trial_callback(settings.max_retry),
    )
    study = optuna.create_study(
        storage=storage,
        study_name=settings.study_name,
        directions=settings.directions,
        sampler=sampler,
        load_if_exists=True,
    )
    if [d.name.lower() for d in study.directions] != settings.directions:
        raise UserError(
            f"study {settings.study_name!r} in {settings.storage} optimizes "
            f"{[d.name.lower() for d in study.directions]}, not {settings.directions}"
        )
    study.set_user_attr(PRUNER_ATTR, pruner_spec(settings.pruner, settings.pruner_args))
    if settings.metrics:  # names in optuna-dashboard (experimental in Optuna 5: no warning)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(settings.metrics)
    return study


def trial_override(settings: StudySettings, number: int) -> str:
    """How a job learns its trial: `optuna_trial` in its config."""
    beat = f",heartbeat_s:{settings.heartbeat_s}" if settings.heartbeat_s else ""
    return (
        f"++optuna_trial={{storage:{quote(settings.storage)},"
        f"study_name:{quote(settings.study_name)},number:{number}{beat}}}"
    )


class _Asker:
    """Asks the study's next trial while the budget (`n_trials`, and the grid) has room; notes
    each trial's job folder in its user attrs."""

    def __init__(self, study: optuna.Study, settings: StudySettings, space: dict, sweep_dir: Path):
        self.study, self.settings, self.space, self.sweep_dir = study, settings, space, sweep_dir

    def left(self) -> int:
        left = self.settings.n_trials - trials_used(self.study)
        if self.settings.sampler == "grid":
            left = min(left, _grid_left(self.study, self.space))
        return max(left, 0)

    def ask(self) -> optuna.Trial:
        with warnings.catch_warnings():  # the jobs beat, not this loop: Optuna cannot know that
            warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be")
            trial = self.study.ask(self.space)
        trial.set_user_attr(JOB_DIR_ATTR, str(self.sweep_dir.resolve() / str(trial.number)))
        return trial

    def next(self) -> optuna.Trial | None:
        return self.ask() if self.left() > 0 else None


def _save_multirun_config(config: DictConfig, sweep_dir: Path, settings: StudySettings) -> None:
    """multirun.yaml with the sweep dir and study resolved (for `python -m cnngan.sweeps.rewrite`)."""
    saved = copy.deepcopy(config)
    with read_write(saved.hydra), open_dict(saved.hydra):
        saved.hydra.sweep.dir = str(sweep_dir)
        saved.hydra.sweeper.storage = settings.storage
        saved.hydra.sweeper.study_name = settings.study_name
    OmegaConf.save(saved, sweep_dir / "multirun.yaml")


def _consecutive(trials: list[optuna.Trial]) -> list[list[optuna.Trial]]:
    """Runs of consecutive trial numbers: a launch numbers its jobs from one start index."""
    runs: list[list[optuna.Trial]] = []
    for trial in sorted(trials, key=lambda t: t.number):
        if runs and trial.number == runs[-1][-1].number + 1:
            runs[-1].append(trial)
        else:
            runs.append([trial])
    return runs


def _launch_batch(
    sweeper: Any, study: optuna.Study, settings: StudySettings, run: list[optuna.Trial], batch: list
) -> None:
    """Launch consecutive trials as one batch and tell each its outcome; if the launch itself
    fails (a worker process killed), each trial is settled from its job folder."""
    sweep_dir = Path(str(sweeper.config.hydra.sweep.dir))
    try:
        returns = sweeper.launcher.launch(batch, initial_job_idx=run[0].number)
    except Exception as err:
        log.warning("launch of trials %s failed: %s", [t.number for t in run], err)
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        ours = [t for t in running if t.number in {r.number for r in run}]
        states = [settle(study, t, sweep_dir, settings.max_retry) for t in ours]
    else:
        states = [tell(study, t, r) for t, r in zip(run, returns, strict=True)]
    log.info("trials %s: %s", [t.number for t in run], states)


def run_study(sweeper: Any, settings: StudySettings, arguments: list[str]) -> optuna.Study:
    """Run the study's remaining trials (in slots or in batches of `n_jobs`); return the study."""
    config = sweeper.config
    sweep_dir = Path(str(config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    _save_multirun_config(config, sweep_dir, settings)
    space, fixed = search_space(settings.params, arguments)
    study = open_study(settings, space)
    prepare_resume(study, settings.n_trials, sweep_dir, settings.max_retry)
    asker = _Asker(study, settings, space, sweep_dir)

    def overrides(trial: optuna.Trial) -> list[str]:
        params = (as_override(k, v) for k, v in trial.params.items())
        return [*fixed, *params, trial_override(settings, trial.number)]

    if submits_jobs(sweeper.launcher):

        def launch(trial: optuna.Trial) -> Any:
            job = overrides(trial)
            sweeper.validate_batch_is_legal([job])
            return launch_in_thread(sweeper.launcher, job, trial)

        run_in_slots(study, settings, sweep_dir, asker.next, launch)
    else:
        while (left := asker.left()) > 0:
            trials = [asker.ask() for _ in range(min(settings.n_jobs, left))]
            started = time.perf_counter()
            for run in _consecutive(trials):
                batch = [overrides(t) for t in run]
                sweeper.validate_batch_is_legal(batch)
                _launch_batch(sweeper, study, settings, run, batch)
            log.info("batch of %d trial(s) took %.1f s", len(trials), time.perf_counter() - started)
    _check_some_completed(study, config, sweep_dir)
    return study


def _grid_left(study: optuna.Study, space: dict[str, Any]) -> int:
    n_grid = 1
    for values in grid_of(space).values():
        n_grid *= len(values)
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    return max(n_grid - len(done), 0)


def _check_some_completed(study: optuna.Study, config: DictConfig, sweep_dir: Path) -> None:
    """No completed trial: write the summary (Hydra skips its end-of-sweep callbacks after an
    error), then fail the sweep."""
    if study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return
    write_summary(sweep_dir, **summary_kwargs(config))
    raise RuntimeError(
        f"no trial of study {study.study_name!r} completed; see {sweep_dir}/summary.md and the "
        "failed jobs' logs"
    )
