"""Parallel, multi-objective trials: 4 trials through the joblib launcher, 2 at a time, maximizing
val/acc_best and minimizing time/wall_s. Trials 0 and 2-3 train 1 epoch, trial 1 trains 4. The two
trials of a batch meet before training (tests/scale/rendezvous.py: jobs run one after the other
would never meet, and fail), and the job start/end times in job.json show that a batch starts
when the whole previous batch has ended (Hydra's `Launcher.launch` returns then); the summary
shows the Pareto front."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from tests.scale.conftest import FEW_BATCHES, QUIET, run_train
from tests.scale.test_sweeps import seeded_sweep

_CONFIG = """\
# @package _global_
defaults:
  - override /hydra/sweeper: cnngan_optuna
optimized_metric: [val/acc_best, time/wall_s]
optimized_direction: [maximize, minimize]
hydra:
  mode: MULTIRUN
  sweeper:
    n_trials: 4
    params:
      trainer.max_epochs: choice(1, 4)
"""


def meet_in_batches_of(size: int, folder: Path) -> list[str]:
    """Overrides that make the jobs of each launch batch meet before they train."""
    key = "+callbacks.rendezvous"
    return [
        f"{key}._target_=tests.scale.rendezvous.Rendezvous",
        f"{key}.folder={folder}",
        f"{key}.job=${{hydra:job.num}}",
        f"{key}.batch_size={size}",
    ]


@pytest.mark.slow
def test_parallel_multi_objective_trials_run_in_batches(tmp_path: Path) -> None:
    trials = [{"trainer.max_epochs": epochs} for epochs in (1, 4, 1, 1)]
    directions = ["maximize", "minimize"]
    args, sweep, storage = seeded_sweep(tmp_path, "parallel_test", _CONFIG, directions, trials)
    run_train(
        [
            *args,
            "data=digits",
            *QUIET,
            *FEW_BATCHES,
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            *meet_in_batches_of(2, tmp_path / "rendezvous"),
        ],
        tmp_path,
    )

    study = optuna.load_study(study_name="parallel_test", storage=storage)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4
    assert study.metric_names == ["val/acc_best", "time/wall_s"]
    assert sorted(p.name for p in (tmp_path / "rendezvous").iterdir()) == ["0", "1", "2", "3"]
    jobs = [json.loads((sweep / str(n) / "job.json").read_text()) for n in range(4)]
    start = [j["started"] for j in jobs]
    end = [j["ended"] for j in jobs]
    # batch 1 = trials 0 and 1 side by side (they met before training); batch 2 starts only
    # when both have ended, so the slot freed first stays empty
    assert max(start[0], start[1]) < min(end[0], end[1])
    assert min(start[2], start[3]) >= max(end[0], end[1])
    print(
        f"\nslot idle after the first trial ended: {min(start[2], start[3]) - min(end[:2]):.1f} s"
    )

    summary = json.loads((sweep / "summary.json").read_text())
    assert summary["metric"] == ["val/acc_best", "time/wall_s"]
    front = summary["pareto_front"]
    values = {j["num"]: j["objective"] for j in summary["jobs"]}
    assert front and all(len(values[n]) == 2 for n in values)
    for member in front:  # nobody beats a front member in both objectives
        acc, wall = member["value"]
        assert not any(a >= acc and w <= wall and (a, w) != (acc, wall) for a, w in values.values())
    off_front = set(values) - {m["num"] for m in front}
    for num in off_front:  # and every other job is beaten by a front member
        acc, wall = values[num]
        assert any(m["value"][0] >= acc and m["value"][1] <= wall for m in front)
    assert "Pareto front: jobs" in (sweep / "summary.md").read_text()
