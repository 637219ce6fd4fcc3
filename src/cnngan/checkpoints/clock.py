"""Lightning's ModelCheckpoint, plus `last.ckpt` written on a clock for every kind of model.

Lightning 2.6's ModelCheckpoint takes `every_n_train_steps` or `train_time_interval` only instead
of `every_n_epochs` (they are mutually exclusive), counts steps as optimizer steps (a GAN makes
n_critic + 1 per batch) and ignores `train_time_interval` under manual optimization (GANs). Here
the clock is separate from the epoch trigger: the epoch/validation checkpoints (`best.ckpt`, the
top-k files) stay as Lightning writes them, and in between `last.ckpt` is refreshed every N
training batches (GAN iterations) and/or every so much wall time. Together with the data order
and RNG states (`resume_state`), resuming from `last.ckpt` continues exactly where it stopped.

Checkpoints store a callback's state under its `state_key`, which Lightning derives from the
class name. This class was first named `ModelCheckpoint` like Lightning's, and runs before it used
Lightning's own class, so it keeps that key (`ClockedModelCheckpoint.state_key`): their
checkpoints' callback state (best and last paths, top-k scores) is restored on resume.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

Interval = timedelta | Mapping[str, float] | float | int | None
# the class name in the state key of every checkpoint written so far
STATE_KEY_NAME = "ModelCheckpoint"


def as_timedelta(interval: Interval) -> timedelta | None:
    """A wall-clock interval from a timedelta, {minutes: 5} (config) or seconds."""
    if interval is None or isinstance(interval, timedelta):
        return interval
    if isinstance(interval, Mapping):
        return timedelta(**{str(k): float(v) for k, v in interval.items()})
    return timedelta(seconds=float(interval))


class ClockedModelCheckpoint(ModelCheckpoint):
    """Args as Lightning's ModelCheckpoint, except:

    every_n_train_steps: also write `last.ckpt` every N training batches (GAN: iterations);
        null = off. Adds to the epoch trigger instead of replacing it.
    train_time_interval: also write `last.ckpt` when this much wall time has passed since the
        last clock write: {minutes: 5}, seconds, or a timedelta; null = off. Rank 0's clock
        decides for every rank.
    """

    def __init__(
        self,
        *args: Any,
        every_n_train_steps: int | None = None,
        train_time_interval: Interval = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.clock_steps = int(every_n_train_steps or 0)
        self.clock_interval = as_timedelta(train_time_interval)
        self._clock_batches = 0
        self._clock_last = time.monotonic()

    @property
    def state_key(self) -> str:
        """Lightning's key for this callback's state, with the class name the key had before the
        rename: `ModelCheckpoint{'monitor': ..., 'mode': ..., ...}`."""
        return STATE_KEY_NAME + super().state_key.removeprefix(type(self).__qualname__)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        self._clock_last = time.monotonic()

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        self._clock_batches += 1
        if self._clock_due(trainer):
            self.save_last_now(trainer)

    def _clock_due(self, trainer: L.Trainer) -> bool:
        if trainer.fast_dev_run or trainer.sanity_checking or not trainer.training:
            return False
        due = bool(self.clock_steps) and self._clock_batches % self.clock_steps == 0
        if self.clock_interval is not None:
            elapsed = time.monotonic() - self._clock_last
            # ranks' clocks differ: rank 0 decides, or the ranks would part in the collective save
            due = trainer.strategy.broadcast(due or elapsed >= self.clock_interval.total_seconds())
        return due

    def save_last_now(self, trainer: L.Trainer) -> str:
        """Write `<dirpath>/last.ckpt` now (on every rank: saving is a collective under DDP)."""
        path = os.path.join(self.dirpath or ".", self.CHECKPOINT_NAME_LAST + self.FILE_EXTENSION)
        self.last_model_path = path  # Lightning's own last-checkpoint writes go to the same file
        trainer.save_checkpoint(path, self.save_weights_only)
        self._clock_last = time.monotonic()
        return path

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "clock_batches": self._clock_batches}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._clock_batches = int(state_dict.get("clock_batches", 0))
