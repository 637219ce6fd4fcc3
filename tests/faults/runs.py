"""Real `cnngan-train` processes for the fault tests: run one, SIGKILL one at a step, compare the
training state of two checkpoints bit for bit."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from tests.conftest import REPO_ROOT

QUIET = [
    "extras.print_config=false",
    "callbacks.rich_progress_bar=null",
    "callbacks.model_summary=null",
    "logger=csv",
    "test=false",
]
# bitwise reproducible, last.ckpt after every batch, no wall clock
EXACT = [
    "trainer.deterministic=true",
    "trainer.accelerator=cpu",
    "++trainer.max_time=null",
    "callbacks.model_checkpoint.every_n_train_steps=1",
    "callbacks.model_checkpoint.train_time_interval=null",
    *QUIET,
]
# the DCGAN experiment, small, on the 8x8 digits in batches of 16
SMALL_DCGAN = [
    "experiment=gan_dcgan",
    "data=digits",
    "data.batch_size=16",
    "model.generator.width=16",
    "model.discriminator.width=16",
    "model.ema_start=0",
    "callbacks.sample_grid=null",
]
# ... run under the exact-resume settings (add a trainer.max_steps)
TINY_GAN = [*SMALL_DCGAN, *EXACT]


# the seed of the step at which the resume tests kill a run: fixed, so that a failure reproduces;
# set it to try other steps (the step and the seed are printed with the test's output)
KILL_SEED_VAR = "CNNGAN_KILL_SEED"


def kill_step(low: int, high: int) -> int:
    """A step in [low, high] drawn from $CNNGAN_KILL_SEED (default 0), printed with its seed."""
    seed = int(os.environ.get(KILL_SEED_VAR, "0"))
    step = random.Random(seed).randint(low, high)
    print(f"kill step {step} of [{low}, {high}] ({KILL_SEED_VAR}={seed} reproduces it)")
    return step


def env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "HYDRA_FULL_ERROR": "0"}


def command(args: Sequence[str], run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "cnngan.train", *args, f"hydra.run.dir={run_dir}"]


def train(args: Sequence[str], run_dir: Path, timeout: float = 600) -> Path:
    """Run cnngan-train to its end; return its checkpoints folder."""
    proc = subprocess.run(
        command(args, run_dir), cwd=REPO_ROOT, env=env(), capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip
    assert proc.returncode == 0, f"cnngan-train failed:\n{(proc.stdout + proc.stderr)[-5000:]}"
    return run_dir / "checkpoints"


def start(args: Sequence[str], run_dir: Path) -> subprocess.Popen:
    """cnngan-train in its own process group (so that all its DDP ranks can be killed at once);
    its output goes to `<run_dir>.out` (`output(proc)`)."""
    out = open(f"{run_dir}.out", "w")  # noqa: SIM115 (closed in `output`)
    proc = subprocess.Popen(
        command(args, run_dir), cwd=REPO_ROOT, env=env(), stdout=out, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    proc.out = out  # type: ignore[attr-defined]
    return proc


def output(proc: subprocess.Popen) -> str:
    proc.out.close()  # type: ignore[attr-defined]
    return Path(proc.out.name).read_text()  # type: ignore[attr-defined]


def saved_step(ckpt: Path) -> int:
    """global_step in `ckpt`, or -1 while there is none. Checkpoints are written atomically (temp
    file + rename), so a file that exists is complete: one that does not load fails the test."""
    try:
        return int(torch.load(ckpt, map_location="cpu", weights_only=True)["global_step"])
    except FileNotFoundError:
        return -1


def kill_at_step(proc: subprocess.Popen, ckpt: Path, step: int, timeout: float = 300) -> None:
    """SIGKILL the whole process group as soon as `ckpt` holds `step` or later."""
    deadline = time.monotonic() + timeout
    while saved_step(ckpt) < step:
        assert proc.poll() is None, f"the run ended before step {step}:\n{output(proc)[-5000:]}"
        assert time.monotonic() < deadline, f"step {step} not reached in {timeout} s"
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    output(proc)


def assert_same_training_state(expected: Path, found: Path) -> None:
    """Weights, buffers and optimizer states of two checkpoints are bitwise equal."""
    a = torch.load(expected, map_location="cpu", weights_only=True)
    b = torch.load(found, map_location="cpu", weights_only=True)
    assert a["global_step"] == b["global_step"]
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for name, tensor in a["state_dict"].items():
        assert torch.equal(tensor, b["state_dict"][name]), f"{name} differs"
    assert_equal_tree(a["optimizer_states"], b["optimizer_states"], "optimizer_states")
    assert_equal_tree(a["lr_schedulers"], b["lr_schedulers"], "lr_schedulers")


def assert_equal_tree(a: Any, b: Any, where: str) -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), f"{where} differs"
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), f"{where}: keys differ"
        for key in a:
            assert_equal_tree(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_equal_tree(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"
