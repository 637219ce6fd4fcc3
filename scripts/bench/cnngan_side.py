"""cnngan's side: the project's data module, model and `lightning.Trainer.fit`, timed by a callback.

The trainer runs without progress bar, checkpointing, logger, model summary and validation, so
the figure is the training loop (the start-up benchmark measures the rest).
"""

from __future__ import annotations

from typing import Any

import hydra
import lightning as L
from omegaconf import DictConfig

from bench.batches import load_arrays
from bench.contenders import SEED
from bench.timing import Seconds, clock, elapsed, sync
from cnngan.core.device import resolve_device
from cnngan.core.iterations import optimizer_steps_per_iteration


class WindowTimer(L.Callback):
    """Times training batches warmup+1 .. warmup+steps (end of batch to end of batch, so each
    timed batch includes its data fetch, transfer and transform)."""

    def __init__(self, warmup: int, steps: int, on_window: Any = None) -> None:
        self.warmup, self.steps, self.on_window = warmup, steps, on_window
        self.batches, self.start, self.seconds = 0, (0.0, 0.0), None
        self.device = resolve_device("auto")

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        self.batches += 1
        if self.batches == self.warmup:
            sync(self.device)
            if self.on_window is not None:
                self.on_window("start")
            self.start = clock()
        elif self.batches == self.warmup + self.steps:
            sync(self.device)
            self.seconds = elapsed(self.start)
            if self.on_window is not None:
                self.on_window("stop")


def cnngan_fit(
    cfg: DictConfig,
    warmup: int,
    steps: int,
    on_window: Any = None,
    profiler: Any = None,
    callbacks: tuple[L.Callback, ...] | list[L.Callback] = (),
) -> tuple[Seconds, L.LightningModule]:
    """Fit `warmup + steps` batches (GAN: iterations); the timed window's (wall, CPU) seconds and
    the trained model. `on_window("start"/"stop")` is called at the window's edges."""
    datamodule = hydra.utils.instantiate(cfg.data).with_arrays(load_arrays(cfg.data))
    L.seed_everything(SEED, verbose=False)  # after loading: a source may draw its test split
    model = hydra.utils.instantiate(cfg.model)
    timer = WindowTimer(warmup, steps, on_window)
    trainer = hydra.utils.instantiate(
        cfg.trainer,
        callbacks=[timer, *callbacks],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        max_steps=warmup + steps,  # GAN: iterations (translated for its optimizer steps)
        optimizer_steps_per_iteration=optimizer_steps_per_iteration(model),
        max_epochs=-1,
        min_epochs=None,
        max_time=None,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        profiler=profiler,
    )
    trainer.fit(model, datamodule=datamodule)
    if timer.seconds is None:
        raise RuntimeError(f"training stopped after {timer.batches} of {warmup + steps} batches")
    return timer.seconds, model
