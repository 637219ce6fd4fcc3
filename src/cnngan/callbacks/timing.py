"""Start-up time: seconds from process start (interpreter, imports, config, data, model, trainer)
to the first optimizer step. `make bench` reads it from the line this callback prints:

    cnngan-train 'callbacks=[default,first_step_timer]'
    cnngan-train experiment=gan_dcgan 'callbacks=[gan,first_step_timer]'
"""

from __future__ import annotations

import time
from typing import Any

import lightning as L

from cnngan.core.speed import process_start_time

MARKER = "cnngan-first-optimizer-step-s:"


class FirstStepTimer(L.Callback):
    """Print `MARKER <seconds>` once, just before the first optimizer step of the run (automatic
    or manual optimization: Lightning calls `on_before_optimizer_step` for both)."""

    def __init__(self) -> None:
        self.seconds: float | None = None

    def on_before_optimizer_step(
        self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer: Any
    ) -> None:
        if self.seconds is not None or not trainer.is_global_zero:
            return
        self.seconds = time.time() - process_start_time()
        print(f"{MARKER} {self.seconds:.3f}", flush=True)
