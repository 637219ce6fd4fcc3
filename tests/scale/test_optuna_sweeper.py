"""cnngan's Optuna sweeper, piece by piece: search spaces from Hydra's grammar, samplers and
pruners by name, the settings' checks, how a job's outcome is told to its trial, and the Pareto
front of a multi-objective summary."""

from __future__ import annotations

import json
import math
from pathlib import Path

import optuna
import pytest
from hydra.core.utils import JobReturn, JobStatus
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from cnngan.core.errors import UserError
from cnngan.sweeps.markdown import summary_markdown
from cnngan.sweeps.objective import TrialFailed, objective_spec, sweep_objective
from cnngan.sweeps.optuna_storage import PRUNERS, SAMPLERS, build_pruner, build_sampler, pruner_spec
from cnngan.sweeps.search_space import as_override, grid_of, search_space
from cnngan.sweeps.study import StudySettings, tell
from cnngan.sweeps.summary import summarize


def test_search_space_from_the_override_grammar() -> None:
    space, fixed = search_space(
        {
            "lr": "tag(log, interval(0.0001, 0.01))",
            "dropout": "interval(0.0, 0.5)",
            "width": "tag(log, int, interval(8, 64))",
            "depth": "range(1, 8, 2)",
            "pool": "choice(max, avg)",
        },
        ["bs=64,128", "data=digits", "pool=max"],
    )
    assert space["lr"] == FloatDistribution(0.0001, 0.01, log=True)
    assert space["dropout"] == FloatDistribution(0.0, 0.5)
    assert space["width"] == IntDistribution(8, 64, log=True)
    assert space["depth"] == IntDistribution(1, 7, step=2)  # range() excludes its stop, as Python's
    assert space["bs"] == CategoricalDistribution([64, 128])  # a command-line sweep joins in
    assert "pool" not in space and fixed == ["data=digits", "pool=max"]  # the command line wins
    assert grid_of({k: space[k] for k in ("depth", "bs")}) == {
        "depth": [1, 3, 5, 7],
        "bs": [64, 128],
    }
    with pytest.raises(UserError, match="interval"):
        grid_of({"lr": space["lr"]})
    assert as_override("x", None) == "x=null" and as_override("x", True) == "x=true"
    assert as_override("name", "a b") == "name='a b'" and as_override("lr", 0.5) == "lr=0.5"


def test_samplers_and_pruners_by_name_seeded() -> None:
    space = {"x": FloatDistribution(0, 1), "k": CategoricalDistribution([1, 2, 3])}
    for name in SAMPLERS:
        grid = {"x": [0.0, 0.5], "k": [1, 2, 3]} if name == "grid" else None
        first = [build_sampler(name, seed=3, grid=grid) for _ in range(2)]
        draws = []
        for sampler in first:
            study = optuna.create_study(sampler=sampler)
            draws.append([study.ask(space).params for _ in range(3)])
        assert draws[0] == draws[1], name  # the same seed, the same trials
    assert isinstance(build_sampler("tpe", {"n_startup_trials": 2}), optuna.samplers.TPESampler)
    for name in PRUNERS:
        assert type(build_pruner(pruner_spec(name))).__name__ == PRUNERS[name]
    median = build_pruner(pruner_spec("median", {"n_startup_trials": 1, "n_warmup_steps": 2}))
    assert median._n_startup_trials == 1 and median._n_warmup_steps == 2
    with pytest.raises(UserError, match="median"):
        pruner_spec("medain")
    with pytest.raises(UserError, match="tpe"):
        build_sampler("bayes")


def _options(**kw: object) -> dict:
    base = {"metric": "val/acc", "direction": "maximize", "storage": "sqlite://", "study_name": "s"}
    return {**base, **kw}


def test_settings_checks() -> None:
    settings = StudySettings.from_options(_options(n_jobs=-1, pruner="median"))
    assert settings.n_jobs >= 1 and settings.directions == ["maximize"]
    multi = StudySettings.from_options(
        _options(metric=["val/acc", "time/wall_s"], direction=["maximize", "minimize"])
    )
    assert multi.metrics == ["val/acc", "time/wall_s"]
    with pytest.raises(UserError, match="single-objective"):
        StudySettings.from_options(
            _options(metric=["a", "b"], direction=["maximize", "minimize"], pruner="median")
        )
    with pytest.raises(UserError, match="optimized_direction"):
        StudySettings.from_options(_options(direction=None))
    with pytest.raises(UserError, match="one direction per metric"):
        objective_spec(["a", "b"], "maximize")
    with pytest.raises(UserError, match="maximize or minimize"):
        objective_spec("a", "max")


def test_sweep_objective_one_or_several_metrics() -> None:
    metrics = {"val/acc": 0.9, "time/wall_s": 12.0, "val/loss": math.nan}
    assert sweep_objective(metrics, "val/acc") == 0.9
    assert sweep_objective(metrics, ["val/acc", "time/wall_s"]) == [0.9, 12.0]
    assert sweep_objective(metrics, None) is None
    with pytest.raises(TrialFailed):
        sweep_objective(metrics, ["val/acc", "val/loss"], in_multirun=True)
    assert math.isnan(sweep_objective(metrics, "val/loss", in_multirun=False))
    with pytest.raises(UserError, match="was not logged"):
        sweep_objective(metrics, "val/f1", in_multirun=True)
    assert sweep_objective(metrics, "val/f1", in_multirun=False) is None  # no sweeper to answer


def _job(status: JobStatus, value: object) -> JobReturn:
    job = JobReturn()
    job.status = status
    job._return_value = value
    return job


def test_a_job_outcome_is_told_to_its_trial() -> None:
    study = optuna.create_study(direction="maximize")
    space = {"x": FloatDistribution(0, 1)}
    outcomes = [
        _job(JobStatus.COMPLETED, 0.7),
        _job(JobStatus.FAILED, optuna.TrialPruned("pruned after epoch 1")),
        _job(JobStatus.FAILED, RuntimeError("out of memory")),
        _job(JobStatus.COMPLETED, math.nan),
    ]
    states = [tell(study, study.ask(space), job) for job in outcomes]
    assert states == ["COMPLETE", "PRUNED", "FAIL", "FAIL"]
    trials = study.get_trials()
    assert [t.state.name for t in trials] == states and trials[0].value == 0.7
    assert trials[2].user_attrs["error"] == "RuntimeError: out of memory"
    assert "not a finite value" in trials[3].user_attrs["error"]


def test_multi_objective_summary_shows_the_pareto_front(tmp_path: Path) -> None:
    # (val/acc maximized, time/wall_s minimized): 0, 1 and 3 trade off; 2 is dominated by 1
    values = [[0.90, 30.0], [0.85, 10.0], [0.80, 12.0], [0.70, 5.0]]
    for num, objective in enumerate([*values, None]):
        status = "COMPLETED" if objective else "FAILED"
        (tmp_path / str(num)).mkdir()
        record = {"num": num, "status": status, "objective": objective, "overrides": [f"x={num}"]}
        (tmp_path / str(num) / "job.json").write_text(json.dumps(record))
    summary = summarize(
        tmp_path, metric=["val/acc", "time/wall_s"], direction=["maximize", "minimize"]
    )
    assert [j["num"] for j in summary["pareto_front"]] == [0, 1, 3]
    assert summary["best"] is None and summary["direction"] == ["maximize", "minimize"]
    assert summary["pareto_front"][1]["value"] == [0.85, 10.0]
    text = summary_markdown(summary)
    assert "Pareto front: jobs 0, 1, 3" in text
    assert "| 2 | completed | 2 | 0.8, 12 |" in text and "| 1 * | completed |" in text
    # the same jobs with both metrics maximized: only job 0 is on the front
    maximized = summarize(tmp_path, metric=["a", "b"], direction=["maximize", "maximize"])
    assert [j["num"] for j in maximized["pareto_front"]] == [0]
