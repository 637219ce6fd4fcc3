"""The checkpoint clock's wall-time trigger (`train_time_interval`): last.ckpt is rewritten once
that much wall time has passed since its last write, never sooner; a real Trainer on the digits."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import pytest
import torch

from cnngan.checkpoints.clock import ClockedModelCheckpoint

BATCHES = 8


class SlowBatchesWatchingLast(L.Callback):
    """Each batch takes at least `batch_s` seconds; at every batch start, record what last.ckpt
    holds: (its modification time, its global step), or None before the first write."""

    def __init__(self, last: Path, batch_s: float) -> None:
        self.last, self.batch_s = last, batch_s
        self.seen: list[tuple[float, int] | None] = []

    def on_train_batch_start(self, trainer: L.Trainer, *args: Any) -> None:
        if self.last.is_file():
            written = self.last.stat().st_mtime
            step = int(torch.load(self.last, weights_only=True)["global_step"])
            self.seen.append((written, step))
        else:
            self.seen.append(None)
        time.sleep(self.batch_s)

    def writes(self) -> list[tuple[float, int]]:
        """(write time, step) of every last.ckpt written during the epoch, in order."""
        return sorted(set(filter(None, self.seen)))


def fit_with_clock(make_cfg, tmp_path: Path, interval: Any, batch_s: float) -> list[tuple]:
    cfg = make_cfg("train", ["data=digits", "model.net.channels=[8,16]", "model.scheduler=null"])
    watcher = SlowBatchesWatchingLast(tmp_path / "ckpt" / "last.ckpt", batch_s)
    clock = ClockedModelCheckpoint(
        dirpath=tmp_path / "ckpt", save_last=True, train_time_interval=interval
    )
    trainer = L.Trainer(
        callbacks=[watcher, clock],
        max_epochs=1,
        limit_train_batches=BATCHES,
        limit_val_batches=0,
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    model = hydra.utils.instantiate(cfg.model)
    trainer.fit(model, datamodule=hydra.utils.instantiate(cfg.data))
    return watcher.writes()


def test_a_zero_interval_writes_after_every_batch(make_cfg, tmp_path: Path) -> None:
    writes = fit_with_clock(make_cfg, tmp_path, {"seconds": 0}, batch_s=0)
    assert [step for _, step in writes] == list(range(1, BATCHES))  # seen at the next batch


def test_a_long_interval_writes_nothing_during_the_epoch(make_cfg, tmp_path: Path) -> None:
    assert fit_with_clock(make_cfg, tmp_path, {"hours": 1}, batch_s=0) == []
    assert (tmp_path / "ckpt" / "last.ckpt").is_file()  # the epoch end writes it as ever


@pytest.mark.slow
@pytest.mark.parametrize("interval", [0.5, {"seconds": 0.5}])
def test_writes_come_once_the_interval_has_passed(make_cfg, tmp_path: Path, interval) -> None:
    """Batches of at least 0.3 s against a 0.5 s clock: writes at least 0.5 s apart (file times:
    a few ms coarse), and so at least 2 of them within 8 batches however slow the machine (one by
    the end of batch 2, the next within two more batches)."""
    writes = fit_with_clock(make_cfg, tmp_path, interval, batch_s=0.3)
    assert len(writes) >= 2, writes
    times = [when for when, _ in writes]
    assert all(b - a >= 0.5 - 0.02 for a, b in zip(times, times[1:], strict=False)), writes
