"""A job that SLURM requeued ($SLURM_RESTART_COUNT > 0) resumes from its run's own last.ckpt; a
first run, or a requeued one without a last.ckpt yet, keeps the ckpt_path it was given. SLURM
itself: tests/scale/test_slurm.py (`scontrol requeue` on a real cluster)."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from cnngan.checkpoints.requeue import resume_checkpoint, slurm_restart_count
from cnngan.train import train

# a short classifier run on the 8x8 digits: 5 batches per epoch, a constant learning rate (a
# finished OneCycle schedule cannot be extended by more epochs)
SHORT = [
    "data=digits",
    "model.net.channels=[8,16]",
    "model.scheduler=null",
    "+trainer.limit_train_batches=5",
    "+trainer.limit_val_batches=1",
    "trainer.accelerator=cpu",
    "test=false",
    "logger=csv",
    "callbacks.rich_progress_bar=null",
]


@pytest.mark.parametrize(("value", "count"), [(None, 0), ("0", 0), ("3", 3), ("", 0), ("x", 0)])
def test_the_restart_count_comes_from_slurm(monkeypatch, value: str | None, count: int) -> None:
    if value is None:
        monkeypatch.delenv("SLURM_RESTART_COUNT", raising=False)
    else:
        monkeypatch.setenv("SLURM_RESTART_COUNT", value)
    assert slurm_restart_count() == count


def test_only_a_requeued_job_with_a_last_checkpoint_resumes_from_it(
    monkeypatch, tmp_path: Path
) -> None:
    trainer = L.Trainer(
        callbacks=[ModelCheckpoint(dirpath=tmp_path, save_last=True)],
        logger=False,
        enable_progress_bar=False,
    )
    given = str(tmp_path / "given.ckpt")
    monkeypatch.delenv("SLURM_RESTART_COUNT", raising=False)
    assert resume_checkpoint(trainer, given) == given
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    assert resume_checkpoint(trainer, given) == given  # requeued before its first checkpoint
    assert resume_checkpoint(trainer, None) is None
    torch.save({"epoch": 2, "global_step": 30}, tmp_path / "last.ckpt")
    assert resume_checkpoint(trainer, given) == str(tmp_path / "last.ckpt")
    assert resume_checkpoint(trainer, None) == str(tmp_path / "last.ckpt")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "0")
    assert resume_checkpoint(trainer, given) == given


@pytest.mark.slow
def test_a_requeued_run_continues_from_its_last_checkpoint(
    make_cfg, monkeypatch, caplog, tmp_path: Path
) -> None:
    """The same run folder twice, as a requeued SLURM job runs it: the second run (restart 1)
    restores last.ckpt and trains only the epoch that was missing."""
    monkeypatch.delenv("SLURM_RESTART_COUNT", raising=False)
    train(make_cfg("train", [*SHORT, "trainer.max_epochs=1"], subdir="job"))
    last = tmp_path / "job" / "checkpoints" / "last.ckpt"
    first = torch.load(last, weights_only=True)
    assert (first["epoch"], first["global_step"]) == (0, 5)

    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    with caplog.at_level(logging.INFO, logger="cnngan"):
        train(make_cfg("train", [*SHORT, "trainer.max_epochs=2"], subdir="job"))
    assert f"restart 1): resuming from {last} (epoch 0, global step 5)" in caplog.text
    assert torch.load(last, weights_only=True)["global_step"] == 10
    # the second run's own log (csv/version_1) holds epoch 1 only: epoch 0 was not trained again
    with open(tmp_path / "job" / "csv" / "version_1" / "metrics.csv") as log:
        assert {row["epoch"] for row in csv.DictReader(log)} == {"1"}
