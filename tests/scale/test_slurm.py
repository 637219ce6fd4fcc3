"""Multiruns through a real SLURM scheduler (`hydra/launcher=slurm`, submitit, sbatch, srun) on the
two-node cluster started for the session (scripts/slurm_local.py): a classifier grid as a job
array, one DDP job of 2 SLURM tasks on one node, a GAN job, and a requeued job that resumes its
checkpoint. Several nodes, time limits and preemption: test_slurm_multinode.py,
test_slurm_requeue.py.

Every job asks for 1 CPU per task; each node has 2 CPUs (on CI the nodes share 2 cores)."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO_ROOT
from tests.scale.slurm_jobs import (
    final_job,
    job_id_of,
    multirun_command,
    run_multirun,
    slurm_env,
    submitit_logs,
)
from tests.scale.test_ddp import REPLICAS, assert_replicas_identical

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

FEW = ["+trainer.limit_train_batches=10", "+trainer.limit_val_batches=1"]  # OneCycleLR: >= 10


def test_grid_runs_as_slurm_job_array(slurm_cluster: Path, tmp_path: Path) -> None:
    """`-m ... model.net.pool=max,avg`: two tasks of one SLURM job array, each with its
    metrics.json, both in the sweep summary."""
    sweep = tmp_path / "sweep"
    run_multirun(
        [
            "data=digits",
            "trainer=cpu",
            "trainer.max_epochs=1",
            *FEW,
            "+trainer.limit_test_batches=1",
            "model.net.pool=max,avg",
            f"hydra.sweep.dir={sweep}",
        ],
        tmp_path,
        slurm_cluster,
    )
    job_ids = {job: job_id_of(sweep / job) for job in ("0", "1")}
    array_ids = {re.fullmatch(r"(\d+)_([01])", i).group(1) for i in job_ids.values()}
    assert len(array_ids) == 1 and len(set(job_ids.values())) == 2, job_ids
    for job, job_id in job_ids.items():
        metrics = json.loads((sweep / job / "metrics.json").read_text())
        assert {"test/acc", "val/acc_best"} <= metrics.keys()
        assert final_job(job_id, slurm_cluster)["JobState"] == "COMPLETED"
        (log,) = submitit_logs(sweep, job_id).values()
        assert f"JobEnvironment(job_id={job_id}," in log, log[-3000:]
    summary = json.loads((sweep / "summary.json").read_text())
    assert summary["counts"] == {"COMPLETED": 2}
    assert sorted(j["params"]["model.net.pool"] for j in summary["jobs"]) == ["avg", "max"]


def test_ddp_job_of_two_slurm_tasks(slurm_cluster: Path, tmp_path: Path) -> None:
    """trainer=ddp_cpu with 2 devices: SLURM starts 2 tasks (nothing is spawned), Lightning's
    SLURM environment joins them into one gloo group, and the replicas end identical."""
    sweep = tmp_path / "sweep"
    run_multirun(
        [
            "data=digits",
            "trainer=ddp_cpu",
            "trainer.devices=2",
            "trainer.max_epochs=1",
            "+trainer.limit_train_batches=3",
            "+trainer.limit_val_batches=1",
            *REPLICAS,
            f"hydra.sweep.dir={sweep}",
        ],
        tmp_path,
        slurm_cluster,
    )
    job_id = job_id_of(sweep / "0")
    job = final_job(job_id, slurm_cluster)
    assert (job["JobState"], job["NumTasks"], job["NumNodes"]) == ("COMPLETED", "2", "1")
    logs = submitit_logs(sweep, job_id)
    assert sorted(logs) == [0, 1], "expected one submitit log per SLURM task"
    for rank, log in logs.items():
        assert f"global_rank={rank}(2)" in log, log[-3000:]
        assert f"GLOBAL_RANK: {rank}, MEMBER: {rank + 1}/2" in log, log[-3000:]
        # Lightning chose SLURMEnvironment (it sets the requeue handler only for that one)
        assert "SLURM auto-requeueing enabled" in log, log[-3000:]
    assert "All distributed processes registered. Starting with 2 processes" in logs[0]
    assert_replicas_identical(sweep / "0", buffers=True)
    assert "test/acc" in json.loads((sweep / "0" / "metrics.json").read_text())


def test_gan_job(slurm_cluster: Path, tmp_path: Path) -> None:
    """experiment=gan_dcgan (narrow nets, 4 iterations) trains, tests and samples as a SLURM job."""
    sweep = tmp_path / "sweep"
    run_multirun(
        [
            "experiment=gan_dcgan",
            "data=digits",
            "trainer=cpu",
            "trainer.max_steps=4",
            "trainer.max_time=null",
            "+trainer.limit_val_batches=1",
            "+trainer.limit_test_batches=1",
            "model.generator.width=8",
            "model.discriminator.width=8",
            "callbacks.sample_grid.every_n_iterations=2",
            f"hydra.sweep.dir={sweep}",
        ],
        tmp_path,
        slurm_cluster,
    )
    run_dir = sweep / "0"
    assert final_job(job_id_of(run_dir), slurm_cluster)["JobState"] == "COMPLETED"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert {"test/d_loss", "train/g_loss"} <= metrics.keys()
    assert (run_dir / "samples" / "final.png").is_file()
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 4 * 2  # 4 iterations = 4 D steps + 4 G steps


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"the multirun ended before {path} appeared"
        assert time.monotonic() < deadline, f"{path} did not appear within {timeout} s"
        time.sleep(0.2)


def _trained_epochs(csv_dir: Path) -> list[int]:
    """The epochs for which a CSV logger run logged the epoch's training loss, in order."""
    header, *rows = [row.split(",") for row in (csv_dir / "metrics.csv").read_text().splitlines()]
    epoch, loss = header.index("epoch"), header.index("train/loss")
    return sorted({int(row[epoch]) for row in rows if row[loss]})


def test_requeued_job_resumes_from_last_checkpoint(slurm_cluster: Path, tmp_path: Path) -> None:
    """`scontrol requeue` after the first checkpoint: SLURM kills the job and runs it again; the
    second run restores last.ckpt (cnngan.checkpoints.requeue) and trains only the remaining epochs."""
    sweep, max_epochs = tmp_path / "sweep", 30
    args = ["data=digits", "trainer=cpu", f"trainer.max_epochs={max_epochs}"]
    args += ["+trainer.limit_train_batches=5", "+trainer.limit_val_batches=1"]
    args += ["+trainer.limit_test_batches=1", f"hydra.sweep.dir={sweep}"]
    output_file = tmp_path / "multirun.log"
    with output_file.open("w") as output:
        proc = subprocess.Popen(
            multirun_command(args, tmp_path),
            cwd=REPO_ROOT,
            env=slurm_env(slurm_conf=slurm_cluster, tmp=tmp_path),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(sweep / "0" / "checkpoints" / "last.ckpt", proc, timeout=300)
        job_id = job_id_of(sweep / "0")
        subprocess.run(
            ["scontrol", "requeue", job_id],
            env=slurm_env(slurm_cluster, tmp_path),
            check=True,
            timeout=30,
        )
        proc.wait(timeout=600)
    finally:
        proc.kill()
    output = output_file.read_text()
    assert proc.returncode == 0, f"cnngan-train -m failed ({proc.returncode}):\n{output[-6000:]}"

    job = final_job(job_id, slurm_cluster)
    assert (job["JobState"], job["Restarts"]) == ("COMPLETED", "1")
    (log,) = submitit_logs(sweep, job_id).values()  # both runs append to the same log
    assert "DUE TO JOB REQUEUE" in log
    resumed = re.search(r"resuming from (\S+) \(epoch (\d+), global step (\d+)\)", log)
    assert resumed, log[-4000:]
    assert resumed.group(1) == str(sweep / "0" / "checkpoints" / "last.ckpt")
    epoch, step = int(resumed.group(2)), int(resumed.group(3))
    assert "Restored all states from the checkpoint" in log
    assert step == (epoch + 1) * 5, "the checkpoint was saved at the end of an epoch"
    assert epoch < max_epochs - 1, "the job had finished training before it was requeued"
    # the first run logged from epoch 0 on; the second one from the epoch after the checkpoint
    csv = sweep / "0" / "csv"
    assert sorted(p.name for p in csv.iterdir()) == ["version_0", "version_1"]
    assert _trained_epochs(csv / "version_0")[0] == 0
    assert _trained_epochs(csv / "version_1") == list(range(epoch + 1, max_epochs))
    assert json.loads((sweep / "0" / "job.json").read_text())["status"] == "COMPLETED"
    assert "test/acc" in json.loads((sweep / "0" / "metrics.json").read_text())
