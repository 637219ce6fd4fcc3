"""DDP (2 CPU processes, gloo): a run killed mid-epoch resumes bit for bit like an uninterrupted
2-process run (every rank's RNG states are in the checkpoint), and a rank that dies makes the
other one exit with an error within a bounded time instead of hanging."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from tests.faults.runs import (
    EXACT,
    assert_same_training_state,
    kill_at_step,
    output,
    saved_step,
    start,
    train,
)

# 1238 digits / 2 ranks / 16 per batch -> 38 batches per epoch and rank
BATCHES_PER_EPOCH = 1238 // 2 // 16
GAN_DDP = [
    "experiment=gan_dcgan",
    "data=digits",
    "data.batch_size=16",
    "model.generator.width=16",
    "model.discriminator.width=16",
    "model.ema_start=0",
    "trainer=ddp_cpu",
    "trainer.devices=2",
    "trainer.max_steps=60",
    "callbacks.sample_grid=null",
    *EXACT,
]


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_ddp_gan_killed_mid_epoch_resumes_bitwise(tmp_path: Path) -> None:
    iteration = random.randint(BATCHES_PER_EPOCH + 4, 52)  # inside epoch 2
    full = train(GAN_DDP, tmp_path / "full")
    killed = tmp_path / "killed"
    newest = killed / "checkpoints" / "last.ckpt"
    kill_at_step(start(GAN_DDP, killed), newest, 2 * iteration)  # both ranks: one process group
    assert (saved_step(newest) // 2) % BATCHES_PER_EPOCH != 0, "killed at an epoch boundary"
    resumed = train([*GAN_DDP, f"ckpt_path={newest}"], tmp_path / "resumed")
    assert_same_training_state(full / "last.ckpt", resumed / "last.ckpt")


def child_pids(pid: int) -> list[int]:
    """Direct children of `pid` (Linux /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def wait_exit(proc, seconds: float) -> int | None:  # noqa: ANN001 (a Popen)
    try:
        return proc.wait(seconds)
    except Exception:
        return None


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("victim", ["rank1", "rank0"])
def test_a_dying_rank_ends_the_run_within_a_bounded_time(victim: str, tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = start([*GAN_DDP, "trainer.max_steps=100000", "trainer.max_epochs=1000"], run)
    try:
        while saved_step(run / "checkpoints" / "last.ckpt") < 4:  # both ranks are training
            assert proc.poll() is None, output(proc)[-3000:]
            time.sleep(0.05)
        (rank1,) = child_pids(proc.pid)
        os.kill(rank1 if victim == "rank1" else proc.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        survivor = proc if victim == "rank1" else None
        if survivor is not None:
            code = wait_exit(survivor, 120)
            assert code is not None, "rank 0 still running 120 s after rank 1 died"
            assert code != 0
            text = output(proc)
            assert "rank" in text.lower() and "exited" in text.lower(), text[-3000:]
        else:
            while Path(f"/proc/{rank1}").exists() and time.monotonic() - killed_at < 120:
                status = Path(f"/proc/{rank1}/stat").read_text().split()[2]
                if status == "Z":
                    break
                time.sleep(0.1)
            assert time.monotonic() - killed_at < 120, "rank 1 still running 120 s after rank 0"
    finally:
        os.killpg(proc.pid, signal.SIGKILL) if proc.poll() is None else None
