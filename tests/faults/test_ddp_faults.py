"""DDP (2 CPU processes, gloo): a run killed mid-epoch resumes bit for bit like an uninterrupted
2-process run (every rank's RNG states are in the checkpoint), and a rank that dies makes the
other one exit with an error within a bounded time instead of hanging."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.faults.runs import (
    TINY_GAN,
    assert_same_training_state,
    kill_at_step,
    kill_step,
    output,
    saved_step,
    start,
    train,
)

# 1238 digits / 2 ranks / 16 per batch -> 38 batches per epoch and rank
BATCHES_PER_EPOCH = 1238 // 2 // 16
GAN_DDP = [*TINY_GAN, "trainer=ddp_cpu", "trainer.devices=2", "trainer.max_steps=60"]


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_ddp_gan_killed_mid_epoch_resumes_bitwise(tmp_path: Path) -> None:
    iteration = kill_step(BATCHES_PER_EPOCH + 4, 52)  # inside epoch 2
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


def gone(pid: int) -> bool:
    """True once `pid` has exited (reaped, or a zombie waiting for its orphaned parent)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except FileNotFoundError:
        return True


BOUND_S = 60.0


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("victim", [1, 0])
def test_a_dying_rank_ends_the_other_within_a_bounded_time(victim: int, tmp_path: Path) -> None:
    """SIGKILL one rank in the middle of training: the other one notices at its next collective
    (gloo sees the closed connection) and exits with an error, within BOUND_S seconds; when rank 1
    dies, rank 0's log names it and its exit code."""
    run = tmp_path / "run"
    proc = start([*GAN_DDP, "trainer.max_steps=100000", "trainer.max_epochs=1000"], run)
    try:
        while saved_step(run / "checkpoints" / "last.ckpt") < 4:  # both ranks are training
            assert proc.poll() is None, output(proc)[-3000:]
            time.sleep(0.05)
        (rank1,) = child_pids(proc.pid)
        dead, survivor = (rank1, proc.pid) if victim == 1 else (proc.pid, rank1)
        os.kill(dead, signal.SIGKILL)
        killed_at = time.monotonic()
        while not gone(survivor):
            assert time.monotonic() - killed_at < BOUND_S, f"rank {1 - victim} still running"
            time.sleep(0.05)
        code = proc.wait(30)
        text = output(proc)
        assert code != 0
        assert "Connection reset by peer" in text or "Connection closed by peer" in text
        assert "error: another DDP rank stopped" in text  # one line from the entry frame
        assert "Traceback" not in text.split("error: another DDP rank stopped")[0][-2000:]
        if victim == 1:
            assert "DDP ranks exited with non-zero codes {1: -9}" in text, text[-3000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
