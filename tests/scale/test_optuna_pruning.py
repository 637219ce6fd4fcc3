"""A real Optuna study with pruning: `cnngan-train hparams_search=classifier_optuna
hydra.sweeper.pruner=median` on digits. Trial 0 learns (lr 0.01); trial 1 cannot (lr 1e-9, chance
accuracy). After its first validation epoch the median pruner must reject trial 1: the run stops,
the study records PRUNED (not FAIL), its job.json says PRUNED, and the summary lists it."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from tests.scale.conftest import FEW_BATCHES, QUIET, run_train
from tests.scale.test_sweeps import seeded_sweep

# classifier_optuna with a learning rate that learns and one that cannot (the other parameters
# drawn by the seeded TPE sampler; the batch size fixed on the command line)
_CONFIG = """\
# @package _global_
defaults:
  - classifier_optuna
hydra:
  sweeper:
    params:
      model.optimizer.lr: choice(0.01, 1e-9)
"""


@pytest.mark.slow
def test_median_pruner_prunes_a_clearly_bad_trial(tmp_path: Path) -> None:
    name = "prune_test"
    trials = [{"model.optimizer.lr": 0.01}, {"model.optimizer.lr": 1e-9}]
    args, sweep, storage = seeded_sweep(tmp_path, name, _CONFIG, ["maximize"], trials)
    run_train(
        [
            *args,
            "data=digits",
            "data.batch_size=64",
            "trainer.max_epochs=3",
            *QUIET,
            *FEW_BATCHES,
            "hydra.sweeper.n_trials=2",
            "hydra.sweeper.pruner=median",
            "hydra.sweeper.pruner_args={n_startup_trials:1,n_warmup_steps:0}",
        ],
        tmp_path,
    )

    good, bad = optuna.load_study(study_name=name, storage=storage).trials
    assert (good.state.name, bad.state.name) == ("COMPLETE", "PRUNED")
    assert sorted(good.intermediate_values) == [1, 2, 3]  # after every epoch (epochs completed)
    assert list(bad.intermediate_values) == [1]  # stopped after its first epoch
    assert bad.intermediate_values[1] < good.intermediate_values[1]

    job = json.loads((sweep / "1" / "job.json").read_text())
    assert job["status"] == "PRUNED" and job["error"] is None
    assert job["pruned"].startswith("pruned after epoch 0: val/acc_best=")
    assert not (sweep / "1" / "metrics.json").exists()  # no test phase for a pruned run
    assert json.loads((sweep / "0" / "job.json").read_text())["status"] == "COMPLETED"

    summary = json.loads((sweep / "summary.json").read_text())
    assert summary["counts"] == {"COMPLETED": 1, "PRUNED": 1}
    assert summary["best"]["num"] == 0 and summary["best"]["value"] == pytest.approx(good.value)
    assert "| 1 | pruned |" in (sweep / "summary.md").read_text()
