"""Two nodes through the real scheduler, with no code change: `trainer=ddp_cpu trainer.num_nodes=2
trainer.devices=1` becomes one SLURM job of one task on each node (node ranks 0 and 1), and ends
with the same weights, bit for bit, as the one-node two-process run (`trainer=ddp_cpu
trainer.devices=2`, run here without SLURM) with the same seed: for the classifier and the GAN,
each preempted once (`scancel --signal USR2`) and requeued. A rank that dies ends the job with a
message naming the checkpoint, and `scontrol requeue` resumes from it."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

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
    job_id_of,
    saved_step,
    scancel,
    scontrol,
    submitit_logs,
    task_pids,
)
from tests.scale.test_ddp import REPLICAS

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

TWO_NODES = ["trainer=ddp_cpu", "trainer.num_nodes=2", "trainer.devices=1"]
ONE_NODE = ["trainer=ddp_cpu", "trainer.devices=2"]


@pytest.fixture(scope="module")
def one_node_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Uninterrupted]]:
    """The uninterrupted one-node two-process runs (no SLURM), started in the background."""
    tmp = tmp_path_factory.mktemp("one_node")
    runs = {
        name: Uninterrupted([*args, *ONE_NODE, *REPLICAS], tmp / name)
        for name, args in (("classifier", CLASSIFIER), ("gan", GAN))
    }
    yield runs
    for run in runs.values():
        run.stop()


def preempt_once(args: list[str], tmp: Path, slurm_conf: Path) -> tuple[Path, str]:
    """Run `args` as a two-node SLURM job, `scancel --signal USR2` it once it has trained 20
    batches, let it requeue and finish; return its run folder and job id."""
    sweep = tmp / "sweep"
    run = Multirun([*args, *TWO_NODES, *REPLICAS, f"hydra.sweep.dir={sweep}"], tmp, slurm_conf)
    try:
        last = sweep / "0" / "checkpoints" / "last.ckpt"
        run.wait_for(lambda: saved_step(last) >= 20, "a checkpoint at step 20")
        job_id = job_id_of(sweep / "0")
        scancel("--signal=USR2", job_id, slurm_conf=slurm_conf)
        assert run.finish() == 0, run.output()
    finally:
        run.stop()
    return sweep / "0", job_id


def assert_preempted_and_resumed(run_dir: Path, job_id: str, slurm_conf: Path) -> None:
    """One job on both nodes, requeued once; rank 0 saved on the signal and the second run
    resumed from that very checkpoint, before the end of training."""
    job = final_job(job_id, slurm_conf)
    assert (job["JobState"], job["Restarts"]) == ("COMPLETED", "1")
    assert (job["NumNodes"], job["NodeList"]) == ("2", "n[1-2]")
    logs = submitit_logs(run_dir.parent, job_id)
    assert sorted(logs) == [0, 1]
    for rank, log in logs.items():
        assert f"node={rank}(2), global_rank={rank}(2)" in log, log[-3000:]
        assert log.count(f"GLOBAL_RANK: {rank}, MEMBER: {rank + 1}/2") == 2, "not two runs"
    saved, resumed = SAVED_ON_SIGNAL.search(logs[0]), RESUMED.search(logs[0])
    assert saved and resumed, logs[0][-4000:]
    last = run_dir / "checkpoints" / "last.ckpt"
    assert saved.group(1) == str(last) and saved.groups() == resumed.groups()
    assert 20 <= int(saved.group(3)) < saved_step(last), "saved at the end: nothing resumed"


def test_classifier_on_two_nodes_preempted_ends_like_one_node(
    slurm_cluster: Path, tmp_path: Path, one_node_runs: dict[str, Uninterrupted]
) -> None:
    run_dir, job_id = preempt_once(CLASSIFIER, tmp_path, slurm_cluster)
    assert_preempted_and_resumed(run_dir, job_id, slurm_cluster)
    assert_ends_like(run_dir, one_node_runs["classifier"])


def test_gan_on_two_nodes_preempted_ends_like_one_node(
    slurm_cluster: Path, tmp_path: Path, one_node_runs: dict[str, Uninterrupted]
) -> None:
    run_dir, job_id = preempt_once(GAN, tmp_path, slurm_cluster)
    assert_preempted_and_resumed(run_dir, job_id, slurm_cluster)
    assert_ends_like(run_dir, one_node_runs["gan"])


def test_a_dead_rank_names_the_checkpoint_and_a_requeue_resumes(
    slurm_cluster: Path, tmp_path: Path, one_node_runs: dict[str, Uninterrupted]
) -> None:
    """SIGKILL the task on node n2 mid-run: rank 0 loses its peer and the job fails with one line
    naming last.ckpt; `scontrol requeue` runs the job again and it resumes from that checkpoint
    to the same end as the one-node run."""
    sweep = tmp_path / "sweep"
    args = [*CLASSIFIER, *TWO_NODES, *REPLICAS, f"hydra.sweep.dir={sweep}"]
    run = Multirun(args, tmp_path, slurm_cluster)
    try:
        last = sweep / "0" / "checkpoints" / "last.ckpt"
        run.wait_for(lambda: saved_step(last) >= 20, "a checkpoint at step 20")
        job_id = job_id_of(sweep / "0")
        ranks_on_n2 = task_pids(job_id, rank=1)
        assert ranks_on_n2, "rank 1's process not found"
        for pid in ranks_on_n2:
            os.kill(pid, signal.SIGKILL)
        assert ended_job(job_id, slurm_cluster, timeout=120)["JobState"] == "FAILED"
    finally:
        # without accounting (no sacct here) submitit never learns that a task without a result
        # file has ended: the multirun would wait for it forever
        run.stop()
    log = submitit_logs(sweep, job_id)[0]
    assert "another DDP rank stopped" in log, log[-4000:]
    assert f"ckpt_path={last}" in log and f"scontrol requeue {job_id}" in log, log[-4000:]

    saved = saved_step(last)
    scontrol("requeue", job_id, slurm_conf=slurm_cluster)
    job = ended_job(job_id, slurm_cluster, timeout=300)
    assert (job["JobState"], job["Restarts"]) == ("COMPLETED", "1"), job
    resumed = RESUMED.search(submitit_logs(sweep, job_id)[0])
    assert resumed and resumed.group(1) == str(last) and int(resumed.group(3)) == saved
    assert_ends_like(sweep / "0", one_node_runs["classifier"])
