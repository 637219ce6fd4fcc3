"""Multi-process DDP on CPU (gloo) as real processes: replicas identical, ranks draw different
noise, a DDP multirun finishes every job (with its test phase) in its own folder; a rank's
command replays the job; trainer, precision and SLURM launcher configs compose. The launcher on
its own: test_ddp_launcher.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from cnngan.distributed.lifecycle import DDPStrategy
from tests.conftest import compose_config
from tests.dtype_probe import PROBE, read_probe
from tests.scale.conftest import QUIET, run_train, tail

REPLICAS = [
    "+callbacks.replica_check._target_=cnngan.distributed.replicas.ReplicaCheck",
    "+callbacks.replica_check.save_dir=${paths.output_dir}/replicas",
]


def assert_replicas_identical(run_dir: Path, buffers: bool) -> dict[int, dict]:
    """Both ranks' weights are equal, and equal to the checkpoint rank 0 wrote; each rank drew
    different random numbers (so identical weights mean the gradients were synchronized)."""
    records = {r: json.loads((run_dir / "replicas" / f"rank{r}.json").read_text()) for r in (0, 1)}
    assert records[0]["world_size"] == records[1]["world_size"] == 2
    assert records[0]["global_step"] == records[1]["global_step"] > 0
    assert records[0]["random_probe"] != records[1]["random_probe"]
    states = {
        r: torch.load(run_dir / "replicas" / f"rank{r}.pt", weights_only=True) for r in (0, 1)
    }
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert states[0].keys() == states[1].keys() == checkpoint.keys()
    params = [k for k in states[0] if "running_" not in k and "num_batches_tracked" not in k]
    checked = states[0].keys() if buffers else params
    for key in checked:
        assert torch.equal(states[0][key], states[1][key]), f"rank 0 and rank 1 differ in {key}"
        assert torch.equal(states[1][key], checkpoint[key]), (
            f"rank 1 and the checkpoint differ in {key}"
        )
    return records


@pytest.mark.slow
def test_classifier_ddp_multirun_two_jobs(tmp_path: Path) -> None:
    """`-m ... trainer=ddp_cpu`: both jobs train on 2 processes, test, and write into
    multiruns/<sweep>/<job>/ only (the second rank of each job writes into the same folder)."""
    sweep = tmp_path / "sweep"
    proc = run_train(
        [
            "-m",
            "data=digits",
            "trainer=ddp_cpu",
            "model.net.pool=max,avg",
            "trainer.max_epochs=1",
            "+trainer.limit_train_batches=3",
            "+trainer.limit_val_batches=1",
            *QUIET,
            *REPLICAS,
            f"hydra.sweep.dir={sweep}",
        ],
        tmp_path,
    )
    out = tail(proc, 10**7)
    assert out.count("Launching 2 jobs locally") == 1, "a rank started a sweep of its own"
    assert "Starting with 2 processes" in out  # (each job's two ranks are checked below)
    assert not (tmp_path / "logs" / "train" / "runs").exists(), "a rank wrote a single-run folder"
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1"]
    for job in ("0", "1"):
        metrics = json.loads((sweep / job / "metrics.json").read_text())
        assert {"test/acc", "val/acc_best"} <= metrics.keys(), f"job {job} skipped a phase"
        assert json.loads((sweep / job / "job.json").read_text())["status"] == "COMPLETED"
        assert_replicas_identical(sweep / job, buffers=True)
    summary = json.loads((sweep / "summary.json").read_text())
    assert summary["counts"] == {"COMPLETED": 2}


@pytest.mark.slow
def test_gan_ddp_two_processes(tmp_path: Path) -> None:
    """The GAN's manual optimization under DDP: no unused-parameter error, replicas identical
    (parameters, EMA generator and batch-norm statistics included), different noise per rank,
    synced epoch metrics, sample grids written once."""
    proc = run_train(
        [
            "experiment=gan_dcgan",
            "data=digits",
            "trainer=ddp_cpu",
            "trainer.max_steps=4",
            "trainer.max_time=null",
            "callbacks.sample_grid.every_n_iterations=2",
            *QUIET,
            *REPLICAS,
        ],
        tmp_path,
    )
    (run_dir,) = (tmp_path / "logs" / "train" / "runs").iterdir()
    records = assert_replicas_identical(run_dir, buffers=True)  # BN statistics aligned at the end
    assert records[0]["global_step"] == 4 * 2  # 4 iterations = 4 D steps + 4 G steps
    assert any(
        k.startswith("generator_ema.") for k in torch.load(run_dir / "replicas" / "rank1.pt")
    )
    assert sorted(p.name for p in (run_dir / "samples").iterdir()) == [
        "final.png",
        "iter_000002.png",
        "iter_000004.png",
    ]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert {"test/d_loss", "train/g_loss"} <= metrics.keys()
    assert "sync_dist=True" not in tail(proc, 10**7), (
        "an epoch-level metric is not synced over ranks"
    )


def test_child_rank_command_replays_the_job(tmp_path: Path) -> None:
    """What a second rank runs: this job's overrides (no sweep), in RUN mode, in this job's dir."""
    from cnngan import config_dir
    from cnngan.distributed.command import hydra_child_command, is_parent_only

    cfg = compose_config(
        "train", ["data=digits", "trainer=ddp_cpu", "model.net.pool=avg"], tmp_path
    )
    command, cwd = hydra_child_command(1)
    assert command[1:3] == ["-m", "cnngan.train"] and "--config-name=train" in command
    assert f"--config-path={config_dir()}" in command
    start = command.index("data=digits")
    assert command[start : start + 3] == ["data=digits", "trainer=ddp_cpu", "model.net.pool=avg"]
    assert f'hydra.run.dir="{cfg.hydra.runtime.output_dir}"' in command
    assert command[-1] == "hydra.mode=RUN" and "hydra.output_subdir=null" in command
    assert cwd == cfg.hydra.runtime.cwd
    for sweep_only in (
        "hydra.mode=MULTIRUN",
        "hydra.sweep.dir=/x",
        "hydra/launcher=joblib",
        "hydra.sweeper.n_trials=3",
        "hydra.run.dir=/y",
    ):
        assert is_parent_only(sweep_only)
    assert not is_parent_only("hydra.job.chdir=true") and not is_parent_only("hydra.verbose=true")


def test_ddp_trainer_configs(tmp_path: Path) -> None:
    import hydra

    gpu = compose_config(
        "train",
        [
            "trainer=ddp",
            "trainer.devices=4",
            "trainer.sync_batchnorm=true",
            "trainer.precision=bf16-mixed",
        ],
        tmp_path,
    )
    assert (
        gpu.trainer.accelerator == "gpu" and gpu.trainer.devices == 4 and gpu.trainer.sync_batchnorm
    )
    assert gpu.trainer.precision == "bf16-mixed"
    cpu = compose_config("train", ["trainer=ddp_cpu", "trainer.devices=3"], tmp_path)
    strategy = hydra.utils.instantiate(cpu.trainer.strategy)
    assert isinstance(strategy, DDPStrategy) and strategy.process_group_backend == "gloo"
    assert strategy.find_unused_parameters == "auto" and strategy.seed_per_rank
    old_name = {"_target_": "cnngan.distributed.lifecycle.DDPStrategy"}  # in configs saved before
    assert isinstance(hydra.utils.instantiate(old_name), DDPStrategy)
    with pytest.raises(ValueError, match="find_unused_parameters"):
        DDPStrategy(find_unused_parameters="sometimes")


@pytest.mark.parametrize(
    ("precision", "dtype"), [("bf16-mixed", "bfloat16"), ("32-true", "float32")]
)
def test_precision_override_trains_in_that_precision(
    make_cfg,  # noqa: ANN001 (fixture)
    precision: str,
    dtype: str,
) -> None:
    """The run's Trainer took the override, and the model's layers computed in its dtype."""
    from cnngan.train import train

    overrides = ["data=digits", "debug=fdr", "trainer=cpu", f"trainer.precision={precision}"]
    cfg = make_cfg("train", [*overrides, *PROBE])
    metrics = train(cfg)
    assert "test/acc" in metrics
    assert read_probe(cfg.paths.output_dir) == {
        "precision": precision,
        "dtypes": [f"torch.{dtype}"],
    }


def test_slurm_launcher_resolves_multinode_ddp_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hydra/launcher=slurm sizes the SLURM job from the trainer; render the sbatch file that
    submitit would submit (nothing is submitted)."""

    import submitit

    # submitit refuses to build a SLURM executor where no `srun` is on the PATH
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
    from omegaconf import OmegaConf

    cfg = compose_config(
        "train",
        [
            "hydra/launcher=slurm",
            "trainer=ddp",
            "trainer.num_nodes=2",
            "trainer.devices=4",
            "hydra.launcher.partition=gpu",
            "hydra.launcher.timeout_min=600",
            "hydra.launcher.setup=[source .venv/bin/activate]",
        ],
        tmp_path,
    )
    params = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    assert params.pop("_target_").endswith("submitit_launcher.SlurmLauncher")
    assert (params["nodes"], params["tasks_per_node"], params["gpus_per_node"]) == (2, 4, 4)
    assert params["submitit_folder"] == f"{cfg.hydra.sweep.dir}/.submitit/%j"

    # the same steps as hydra_submitit_launcher's SlurmLauncher.launch, minus the submission
    executor = submitit.AutoExecutor(
        folder=params["submitit_folder"],
        cluster="slurm",
        slurm_max_num_timeout=params.pop("max_num_timeout"),
    )
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(
        **{k if k in base else f"slurm_{k}": v for k, v in params.items() if k != "submitit_folder"}
    )
    sbatch = executor._executor._make_submission_file_text("python -m submitit.core._submit", "uid")
    for line in (
        "#SBATCH --nodes=2",
        "#SBATCH --ntasks-per-node=4",
        "#SBATCH --gpus-per-node=4",
        "#SBATCH --partition=gpu",
        "#SBATCH --time=600",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --signal=USR2@120",
        "source .venv/bin/activate",
    ):
        assert line in sbatch, f"{line!r} missing from:\n{sbatch}"
