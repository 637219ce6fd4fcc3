"""The sweep loop of `CnnganOptunaSweeper`: open (or resume) the study, then ask a batch of
trials, launch one Hydra job per trial, tell each trial its job's outcome.

- Job folder N holds trial N; each job is told its trial through `optuna_trial` (storage URL,
  study name, trial number), which the pruning callback uses to report and to stop early.
- A job that raised `optuna.TrialPruned` is told PRUNED; one that failed or returned a non-finite
  objective FAIL (user attr `error`); the study goes on.
- Batches: Hydra's `Launcher.launch` returns when every job of the batch has ended, so a finished
  or pruned trial's slot is refilled with the next batch, not at once.
"""

from __future__ import annotations

import copy
import logging
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from omegaconf import DictConfig, OmegaConf, open_dict, read_write
from optuna.trial import TrialState

from cnngan.core.errors import UserError
from cnngan.sweeps.objective import objective_spec
from cnngan.sweeps.optuna_storage import PRUNER_ATTR, build_sampler, pruner_spec
from cnngan.sweeps.records import finite_objective, job_outcome
from cnngan.sweeps.resume import prepare_resume
from cnngan.sweeps.search_space import as_override, grid_of, quote, search_space
from cnngan.sweeps.summary import summary_kwargs, write_summary

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StudySettings:
    """The sweeper's options, checked and as plain Python values."""

    metrics: list[str]
    directions: list[str]
    storage: str
    study_name: str
    n_trials: int
    n_jobs: int
    sampler: str
    seed: int | None
    pruner: str
    sampler_args: dict[str, Any] = field(default_factory=dict)
    pruner_args: dict[str, Any] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> StudySettings:
        plain = {
            k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
            for k, v in options.items()
        }
        if not plain.get("direction"):
            raise UserError("set optimized_direction (or hydra.sweeper.direction) for the study")
        metrics, directions = objective_spec(plain.get("metric"), plain["direction"])
        if len(directions) > 1 and plain.get("pruner", "none") != "none":
            raise UserError("Optuna prunes single-objective studies only: use pruner=none")
        n_jobs = int(plain.get("n_jobs") or 1)
        return cls(
            metrics=metrics,
            directions=directions,
            storage=str(plain["storage"]),
            study_name=str(plain["study_name"]),
            n_trials=int(plain.get("n_trials", 20)),
            n_jobs=n_jobs if n_jobs > 0 else os.cpu_count() or 1,
            sampler=str(plain.get("sampler", "tpe")),
            seed=plain.get("seed"),
            pruner=str(plain.get("pruner", "none")),
            sampler_args=dict(plain.get("sampler_args") or {}),
            pruner_args=dict(plain.get("pruner_args") or {}),
            params={str(k): str(v) for k, v in (plain.get("params") or {}).items()},
        )


def open_study(settings: StudySettings, space: dict[str, Any]) -> optuna.Study:
    """Create the study, or load it to continue (same storage and name)."""
    grid = grid_of(space) if settings.sampler == "grid" else None
    sampler = build_sampler(settings.sampler, settings.sampler_args, settings.seed, grid)
    study = optuna.create_study(
        storage=settings.storage,
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
    return (
        f"++optuna_trial={{storage:{quote(settings.storage)},"
        f"study_name:{quote(settings.study_name)},number:{number}}}"
    )


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


def _consecutive(trials: list[optuna.Trial]) -> list[list[optuna.Trial]]:
    """Runs of consecutive trial numbers: a launch numbers its jobs from one start index."""
    runs: list[list[optuna.Trial]] = []
    for trial in sorted(trials, key=lambda t: t.number):
        if runs and trial.number == runs[-1][-1].number + 1:
            runs[-1].append(trial)
        else:
            runs.append([trial])
    return runs


def _save_multirun_config(config: DictConfig, sweep_dir: Path, settings: StudySettings) -> None:
    """multirun.yaml with the sweep dir and study resolved (for `python -m cnngan.sweeps.rewrite`)."""
    saved = copy.deepcopy(config)
    with read_write(saved.hydra), open_dict(saved.hydra):
        saved.hydra.sweep.dir = str(sweep_dir)
        saved.hydra.sweeper.storage = settings.storage
        saved.hydra.sweeper.study_name = settings.study_name
    OmegaConf.save(saved, sweep_dir / "multirun.yaml")


def run_study(sweeper: Any, settings: StudySettings, arguments: list[str]) -> optuna.Study:
    """Run the study's remaining trials in batches of `n_jobs`; return the study."""
    config = sweeper.config
    sweep_dir = Path(str(config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    _save_multirun_config(config, sweep_dir, settings)
    space, fixed = search_space(settings.params, arguments)
    study = open_study(settings, space)
    remaining = prepare_resume(study, settings.n_trials, sweep_dir)
    if settings.sampler == "grid":
        remaining = min(remaining, _grid_left(study, space))
    while remaining > 0:
        trials = [study.ask(space) for _ in range(min(settings.n_jobs, remaining))]
        started = time.perf_counter()
        for run in _consecutive(trials):
            batch = [
                [
                    *fixed,
                    *(as_override(k, v) for k, v in t.params.items()),
                    trial_override(settings, t.number),
                ]
                for t in run
            ]
            sweeper.validate_batch_is_legal(batch)
            returns = sweeper.launcher.launch(batch, initial_job_idx=run[0].number)
            states = [tell(study, t, r) for t, r in zip(run, returns, strict=True)]
            log.info("trials %s: %s", [t.number for t in run], states)
        log.info("batch of %d trial(s) took %.1f s", len(trials), time.perf_counter() - started)
        remaining -= len(trials)
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
