"""Helpers for the tests that run `cnngan-train -m hydra/launcher=slurm` on the local cluster
(the `slurm_cluster` fixture): start a multirun, read what SLURM and submitit recorded, signal or
kill a job's tasks."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import yaml
from omegaconf import OmegaConf

from tests.conftest import REPO_ROOT
from tests.faults.runs import SMALL_DCGAN, assert_same_training_state, output, start
from tests.scale.conftest import QUIET, clean_env, tail

CNNGAN_TRAIN = str(Path(sys.executable).parent / "cnngan-train")
# CPU-only jobs on the local nodes: no GPUs, one CPU per task, a short time limit
SLURM = [
    "hydra/launcher=slurm",
    "hydra.launcher.gpus_per_node=null",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.timeout_min=15",
]

# bitwise reproducible; last.ckpt every 10 training batches (to see progress), no wall clock
EXACT = [
    "trainer.deterministic=true",
    "trainer.accelerator=cpu",
    "++trainer.max_time=null",
    "callbacks.model_checkpoint.every_n_train_steps=10",
    "callbacks.model_checkpoint.train_time_interval=null",
    "logger=csv",
    "test=false",
]
# small nets on the 8x8 digits (1238 training images) in batches of 16
CLASSIFIER = [
    "data=digits",
    "data.batch_size=16",
    "model.net.channels=[8,16]",
    "model.net.fc_dims=[32]",
    "trainer.max_epochs=4",
    *EXACT,
]
GAN = [
    *SMALL_DCGAN,
    "trainer.max_epochs=3",
    "trainer.max_steps=-1",
    *EXACT,
]


def slurm_env(slurm_conf: Path, tmp: Path) -> dict[str, str]:
    """What the multirun and (through sbatch's --export=ALL) its jobs see: the cluster's config,
    one torch thread per task, no W&B credentials."""
    return {**clean_env(tmp / "home"), "SLURM_CONF": str(slurm_conf), "OMP_NUM_THREADS": "1"}


def multirun_command(args: Sequence[str], tmp: Path) -> list[str]:
    return [CNNGAN_TRAIN, "-m", *SLURM, *QUIET, *args, f"paths.log_dir={tmp / 'logs'}"]


def run_multirun(
    args: Sequence[str], tmp: Path, slurm_conf: Path, timeout: float = 600
) -> subprocess.CompletedProcess:
    """`cnngan-train -m hydra/launcher=slurm ARGS`; fails with the output's tail on error."""
    proc = subprocess.run(
        multirun_command(args, tmp),
        cwd=REPO_ROOT,
        env=slurm_env(slurm_conf, tmp),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"cnngan-train -m failed ({proc.returncode}):\n{tail(proc)}"
    return proc


class Multirun:
    """A multirun started in the background; its output goes to `<tmp>/multirun.log`."""

    def __init__(self, args: Sequence[str], tmp: Path, slurm_conf: Path) -> None:
        self.slurm_conf = slurm_conf
        self.log = tmp / "multirun.log"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                multirun_command(args, tmp),
                cwd=REPO_ROOT,
                env=slurm_env(slurm_conf, tmp),
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.proc.poll() is None, f"the multirun ended before {what}:\n{self.output()}"
            assert time.monotonic() < deadline, f"no {what} within {timeout} s:\n{self.output()}"
            time.sleep(0.2)

    def finish(self, timeout: float = 600) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.stop()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def output(self, n: int = 6000) -> str:
        return self.log.read_text()[-n:]


def scontrol(*args: str, slurm_conf: Path) -> str:
    return subprocess.run(
        ["scontrol", *args],
        env={**os.environ, "SLURM_CONF": str(slurm_conf)},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout


def scontrol_job(job_id: str, slurm_conf: Path) -> dict[str, str]:
    """`scontrol show job` as a dict (JobState, Restarts, NumTasks, NodeList, ...)."""
    out = scontrol("-o", "show", "job", job_id, slurm_conf=slurm_conf)
    return dict(field.split("=", 1) for field in out.split() if "=" in field)


def final_job(job_id: str, slurm_conf: Path, timeout: float = 120) -> dict[str, str]:
    """The job's record once it has ended: the multirun returns as soon as every task wrote its
    result, while SLURM may still be ending the job (RUNNING, COMPLETING) for a moment."""
    deadline = time.monotonic() + timeout
    while (job := scontrol_job(job_id, slurm_conf))["JobState"] in ("RUNNING", "COMPLETING"):
        assert time.monotonic() < deadline, f"job {job_id} still {job['JobState']}"
        time.sleep(1)
    return job


ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "DEADLINE"}


def ended_job(job_id: str, slurm_conf: Path, timeout: float) -> dict[str, str]:
    """The job's record once it has ended for good (a requeued job is PENDING, then RUNNING)."""
    deadline = time.monotonic() + timeout
    while (job := scontrol_job(job_id, slurm_conf))["JobState"] not in ENDED:
        assert time.monotonic() < deadline, f"job {job_id} still {job['JobState']}"
        time.sleep(1)
    return job


def scancel(*args: str, slurm_conf: Path) -> None:
    subprocess.run(
        ["scancel", *args],
        env={**os.environ, "SLURM_CONF": str(slurm_conf)},
        check=True,
        timeout=30,
    )


def job_id_of(run_dir: Path) -> str:
    """The SLURM job id the launcher recorded in the job's Hydra config (hydra.job.id)."""
    return str(OmegaConf.load(run_dir / ".hydra" / "hydra.yaml").hydra.job.id)


def job_id_if_written(run_dir: Path) -> str | None:
    """`job_id_of` for a poll: None before the job has written its Hydra config, and while it is
    still writing it (the file exists before its content: a read then finds it empty or cut)."""
    try:
        job_id = OmegaConf.select(OmegaConf.load(run_dir / ".hydra" / "hydra.yaml"), "hydra.job.id")
    except (OSError, yaml.YAMLError):
        return None
    return None if job_id is None else str(job_id)


def submitit_logs(sweep: Path, job_id: str) -> dict[int, str]:
    """Each SLURM task's stdout + stderr, as submitit wrote them (every run of a requeued job
    appends to the same files); by task rank."""
    folder = sweep / ".submitit" / job_id
    logs = {}
    for out in sorted(folder.glob(f"{job_id}_*_log.out")):
        rank = int(out.name.removeprefix(f"{job_id}_").split("_")[0])
        logs[rank] = out.read_text() + out.with_suffix(".err").read_text()
    return logs


def saved_step(ckpt: Path) -> int:
    """global_step in `ckpt`, or -1 while there is none (written atomically: never half a file)."""
    try:
        return int(torch.load(ckpt, map_location="cpu", weights_only=True)["global_step"])
    except (FileNotFoundError, EOFError, RuntimeError):
        return -1


SAVED_ON_SIGNAL = re.compile(
    r"SIGUSR2 \(time limit or preemption\): saved (\S+) \(epoch (\d+), global step (\d+)\)"
)
RESUMED = re.compile(r"resuming from (\S+) \(epoch (\d+), global step (\d+)\)")


def task_pids(job_id: str, rank: int) -> list[int]:
    """The processes running SLURM task `rank` of job `job_id` (found by their environment)."""
    wanted = {f"SLURM_JOB_ID={job_id}".encode(), f"SLURM_PROCID={rank}".encode()}
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = set((proc / "environ").read_bytes().split(b"\0"))
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if wanted <= environ and b"submitit.core._submit" in cmdline:
            found.append(int(proc.name))
    return found


class Uninterrupted:
    """A `cnngan-train ARGS` run without SLURM, started now in the background (it shares the CPUs
    with the SLURM jobs of a test, and is mostly done by the time they are)."""

    def __init__(self, args: Sequence[str], run_dir: Path) -> None:
        self.run_dir = run_dir
        self.proc = start([*args, *QUIET], run_dir)

    def checkpoints(self, timeout: float = 900) -> Path:
        """Wait for the run to end; its checkpoints folder."""
        code = self.proc.wait(timeout)
        text = output(self.proc)
        assert code == 0, f"the uninterrupted run failed:\n{text[-5000:]}"
        return self.run_dir / "checkpoints"

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def assert_ends_like(run_dir: Path, uninterrupted: Uninterrupted) -> None:
    """Every rank of a run with `REPLICAS` ends with the weights and buffers of the uninterrupted
    run's rank 0, bit for bit; their last checkpoints hold the same training state (weights,
    optimizer states, step)."""
    expected_dir = uninterrupted.checkpoints().parent
    expected = torch.load(expected_dir / "replicas" / "rank0.pt", weights_only=True)
    ranks = sorted(run_dir.glob("replicas/rank*.pt"))
    assert ranks, f"no replicas/rank*.pt in {run_dir}"
    for path in ranks:
        final = torch.load(path, weights_only=True)
        assert final.keys() == expected.keys()
        for name, tensor in expected.items():
            assert torch.equal(final[name], tensor), f"{path.stem} ends with another {name}"
    last = Path("checkpoints", "last.ckpt")
    assert_same_training_state(expected_dir / last, run_dir / last)
