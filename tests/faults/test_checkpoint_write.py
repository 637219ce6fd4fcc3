"""Checkpoint writes are atomic: a SIGKILL in the middle of a write, or a disk that fills up in the
middle of a run, leaves the previous checkpoint intact and loadable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from cnngan.checkpoints.atomic import AtomicCheckpointIO, CheckpointWriteError
from cnngan.checkpoints.files import load_checkpoint
from tests.conftest import REPO_ROOT
from tests.faults.runs import EXACT, command, env, saved_step

# a checkpoint big enough (about 400 MB) that writing it takes a moment to catch
WRITE_BIG = """
import sys, torch
from cnngan.checkpoints.atomic import AtomicCheckpointIO
big = {"global_step": 2, "state_dict": {"w": torch.ones(100_000_000)}}
AtomicCheckpointIO().save_checkpoint(big, sys.argv[1])
"""


def small_checkpoint(step: int) -> dict:
    return {"global_step": step, "state_dict": {"w": torch.full((10,), float(step))}}


@pytest.mark.timeout(120)
def test_sigkill_during_a_write_leaves_the_previous_checkpoint(tmp_path: Path) -> None:
    target = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint(small_checkpoint(1), target)
    writer = subprocess.Popen([sys.executable, "-c", WRITE_BIG, str(target)], cwd=REPO_ROOT)
    while not list(tmp_path.glob(".last.ckpt.*.tmp")):  # the new file is being written
        assert writer.poll() is None, "the writer ended before it was caught writing"
        time.sleep(0.001)
    os.kill(writer.pid, signal.SIGKILL)
    assert writer.wait(30) == -signal.SIGKILL
    kept = torch.load(target, weights_only=True)
    assert kept["global_step"] == 1 and torch.equal(kept["state_dict"]["w"], torch.ones(10))
    assert list(tmp_path.glob(".last.ckpt.*.tmp")), "the half-written file should be a temp file"
    AtomicCheckpointIO().save_checkpoint(small_checkpoint(3), target)  # the next write tidies up
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]
    assert torch.load(target, weights_only=True)["global_step"] == 3


def test_the_fault_tests_read_a_half_written_checkpoint_as_a_failure(tmp_path: Path) -> None:
    """The kill tests poll `last.ckpt` while a run writes it: a missing file is "not yet", but a
    file that exists and does not load is a broken atomic write, and must fail the test."""
    whole = tmp_path / "last.ckpt"
    assert saved_step(whole) == -1
    AtomicCheckpointIO().save_checkpoint(small_checkpoint(5), whole)
    assert saved_step(whole) == 5
    data = whole.read_bytes()
    for kept in (len(data) // 10, len(data) // 2, len(data) - 10):
        half = tmp_path / f"half_{kept}.ckpt"
        half.write_bytes(data[:kept])
        with pytest.raises((RuntimeError, OSError)):  # torch's zip reader: either, by where
            saved_step(half)


def test_a_full_disk_is_one_named_error_and_keeps_the_old_file(tmpfs) -> None:
    folder = tmpfs(size="64k")
    target = folder / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint(small_checkpoint(1), target)
    with pytest.raises(CheckpointWriteError, match="No space left on device.*intact"):
        AtomicCheckpointIO().save_checkpoint({"w": torch.ones(100_000)}, target)
    assert torch.load(target, weights_only=True)["global_step"] == 1
    assert [p.name for p in folder.iterdir()] == ["last.ckpt"]  # no temp file left behind


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_disk_full_mid_run_keeps_the_last_good_checkpoint(tmpfs, tmp_path: Path) -> None:
    """A real run whose checkpoint folder (a real tmpfs) fills up after its first checkpoint: the
    run stops with one message naming the problem and the fix (exit 2, no traceback), and the
    last good checkpoint is still there, loads and resumes."""
    folder = tmpfs(size="128k")  # one checkpoint (~85 kB) fits, a second one beside it does not
    args = [
        "data=digits",
        "data.batch_size=16",
        "model.net.channels=[8,16]",
        "model.net.fc_dims=[32]",
        "trainer.max_epochs=1",
        f"callbacks.model_checkpoint.dirpath={folder}",
        *EXACT,
    ]
    run = subprocess.run(
        command(args, tmp_path / "run"), cwd=REPO_ROOT, env=env(), capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 2, (run.stdout + run.stderr)[-3000:]
    assert "Traceback" not in run.stderr
    assert "could not write checkpoint" in run.stderr and "No space left" in run.stderr
    assert f"ckpt_path={folder / 'last.ckpt'}" in run.stderr
    assert [p.name for p in folder.iterdir()] == ["last.ckpt"]
    assert saved_step(folder / "last.ckpt") == 1
    load_checkpoint(folder / "last.ckpt")  # a complete cnngan checkpoint
