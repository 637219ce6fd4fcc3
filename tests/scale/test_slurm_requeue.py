"""Time limits and preemption on one node, through the real scheduler: SLURM signals the job
(USR2, from `--signal` at the time limit, or `scancel --signal USR2` as at a preemption), every
rank saves `last.ckpt` at the end of its batch, submitit requeues the job, and the requeued job
resumes from that checkpoint, bit for bit like a run that was never interrupted. Past
`max_num_timeout` the job is not requeued and its log names the checkpoint. Two nodes:
test_slurm_multinode.py."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.runs import assert_same_training_state
from tests.scale.slurm_jobs import (
    CLASSIFIER,
    GAN,
    RESUMED,
    SAVED_ON_SIGNAL,
    Multirun,
    Uninterrupted,
    assert_ends_like,
    ended_job,
    final_job,
    job_id_if_written,
    job_id_of,
    saved_step,
    scancel,
    scontrol_job,
    submitit_logs,
)
from tests.scale.test_ddp import REPLICAS

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

# trains until stopped; a constant learning rate, so that the run's length changes nothing else
ENDLESS_CLASSIFIER = [
    *CLASSIFIER,
    "trainer.max_epochs=100000",
    "model.scheduler=null",
    "callbacks.early_stopping=null",
]


@pytest.fixture
def multirun() -> Iterator[list[Multirun]]:
    """Multiruns a test starts; killed at its end if still running."""
    started: list[Multirun] = []
    yield started
    for run in started:
        run.stop()


def rank0_log(sweep: Path) -> str:
    """Task 0's log of the sweep's only job ('' before it has started)."""
    job_id = job_id_if_written(sweep / "0")
    return "" if job_id is None else submitit_logs(sweep, job_id).get(0, "")


def test_time_limit_saves_requeues_and_resumes_exactly(
    slurm_cluster: Path, tmp_path: Path, multirun: list[Multirun]
) -> None:
    """A one-minute job, signalled 20 s before its limit (slurmctld checks limits every 30 s, so
    the signal comes 40 to 70 s after the start): it saves, requeues itself and resumes from
    that checkpoint. Stopped after a clock checkpoint of the resumed run, whose training state
    equals an uninterrupted run's of as many steps."""
    sweep = tmp_path / "sweep"
    time_limit = ["hydra.launcher.timeout_min=1", "hydra.launcher.signal_delay_s=20"]
    args = [*ENDLESS_CLASSIFIER, *time_limit, "hydra.launcher.max_num_timeout=10"]
    multirun.append(run := Multirun([*args, f"hydra.sweep.dir={sweep}"], tmp_path, slurm_cluster))
    run.wait_for(lambda: RESUMED.search(rank0_log(sweep)), "a resumed job", timeout=400)
    log, job_id = rank0_log(sweep), job_id_of(sweep / "0")
    saved, resumed = SAVED_ON_SIGNAL.search(log), RESUMED.search(log)
    assert saved and saved.groups() == resumed.groups(), log[-4000:]
    assert "this job is timed-out" in log and "Requeued job" in log, log[-4000:]
    job = scontrol_job(job_id, slurm_cluster)
    assert job["TimeLimit"] == "00:01:00" and int(job["Restarts"]) >= 1, job

    resumed_ckpt, step = tmp_path / "resumed.ckpt", int(saved.group(3))

    def clock_checkpoint_after_resume() -> bool:
        last = sweep / "0" / "checkpoints" / "last.ckpt"
        if last.exists():
            shutil.copyfile(last, resumed_ckpt)  # written atomically: never half a file
        found = saved_step(resumed_ckpt)
        return found >= step + 20 and found % 10 == 0

    run.wait_for(clock_checkpoint_after_resume, "a checkpoint 20 steps after the resume")
    scancel(job_id, slurm_conf=slurm_cluster)
    run.stop()
    steps = saved_step(resumed_ckpt)
    reference = Uninterrupted([*ENDLESS_CLASSIFIER, f"++trainer.max_steps={steps}"], tmp_path / "u")
    assert_same_training_state(reference.checkpoints() / "last.ckpt", resumed_ckpt)


def test_gan_preempted_ends_like_an_uninterrupted_run(
    slurm_cluster: Path, tmp_path: Path, multirun: list[Multirun]
) -> None:
    """`scancel --signal USR2` (what a preemption sends) after 10 GAN iterations: the job saves,
    requeues, resumes and ends with the training state of a run never interrupted."""
    reference = Uninterrupted([*GAN, *REPLICAS], tmp_path / "uninterrupted")
    sweep = tmp_path / "sweep"
    args = [*GAN, *REPLICAS, "hydra.launcher.max_num_timeout=3", f"hydra.sweep.dir={sweep}"]
    multirun.append(run := Multirun(args, tmp_path, slurm_cluster))
    last = sweep / "0" / "checkpoints" / "last.ckpt"
    run.wait_for(lambda: saved_step(last) >= 20, "a checkpoint at step 20")
    job_id = job_id_of(sweep / "0")
    scancel("--signal=USR2", job_id, slurm_conf=slurm_cluster)
    assert run.finish() == 0, run.output()

    job = final_job(job_id, slurm_cluster)
    assert (job["JobState"], job["Restarts"]) == ("COMPLETED", "1")
    log = rank0_log(sweep)
    saved, resumed = SAVED_ON_SIGNAL.search(log), RESUMED.search(log)
    assert saved and resumed and saved.groups() == resumed.groups(), log[-4000:]
    assert 20 <= int(saved.group(3)) < saved_step(last), "saved at the end: nothing resumed"
    assert_ends_like(sweep / "0", reference)


def test_past_max_num_timeout_the_job_ends_naming_its_checkpoint(
    slurm_cluster: Path, tmp_path: Path, multirun: list[Multirun]
) -> None:
    """max_num_timeout=0 and a 10-minute limit (submitit takes any signal to a job of 10 minutes
    or less for its time limit): the job still saves on the signal, is not requeued, and fails
    with submitit's reason after a log line naming the checkpoint to resume from."""
    sweep = tmp_path / "sweep"
    limits = ["hydra.launcher.timeout_min=10", "hydra.launcher.max_num_timeout=0"]
    args = [*ENDLESS_CLASSIFIER, *limits, f"hydra.sweep.dir={sweep}"]
    multirun.append(run := Multirun(args, tmp_path, slurm_cluster))
    last = sweep / "0" / "checkpoints" / "last.ckpt"
    run.wait_for(lambda: saved_step(last) >= 20, "a checkpoint at step 20")
    job_id = job_id_of(sweep / "0")
    scancel("--signal=USR2", job_id, slurm_conf=slurm_cluster)

    job = ended_job(job_id, slurm_cluster, timeout=120)
    assert job["Restarts"] == "0", job
    run.finish(timeout=120)
    log = rank0_log(sweep)
    saved = SAVED_ON_SIGNAL.search(log)
    assert saved and saved.group(1) == str(last), log[-4000:]
    assert f"resume with ckpt_path={last}" in log
    assert saved_step(last) == int(saved.group(3))
    record = json.loads((sweep / "0" / "job.json").read_text())
    assert record["status"] == "FAILED"
    assert "Job not requeued because: timed-out too many times" in record["error"]
