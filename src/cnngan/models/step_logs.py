"""Which training steps' logged values Lightning writes, so that per-step values are logged on
those steps only.

`self.log(..., on_step=True, on_epoch=False)` costs 0.6-1.7 ms per key on a 2-core CPU
(Lightning moves the key's whole result record to the value's device on every call; docs/speed.md),
while the loggers see the value only every `log_every_n_steps` steps. Logging it on the written
steps gives the loggers the same rows ("log less often, not less"); the progress bar then shows a
value refreshed every `log_every_n_steps` steps. Checks that need every step's value (the NaN
guard) read the module's `step_values` instead (`cnngan.callbacks.nan_guard`).
"""

from __future__ import annotations

from typing import Any


def writes_step_logs(trainer: Any, step: int, optimizer_steps_per_step: int = 1) -> bool:
    """Whether Lightning writes the per-step values logged in training step `step` (0-based,
    counted in batches that step the optimizers: a GAN iteration is one): every
    `log_every_n_steps`-th step (Lightning's logging step counts such batches), every one under
    fast_dev_run, and the one where a callback asks it to stop (`should_stop`). The last step of
    `max_steps` (which counts optimizer steps, `optimizer_steps_per_step` per step) counts too:
    Lightning writes it when a callback stops the fit there, as the GAN metrics callback does. A
    stop announced after the batch (max_time) writes the last logging step's values again, under
    the final step."""
    if trainer.fast_dev_run:
        return True
    if not trainer.log_every_n_steps:
        return False
    done = step + 1
    last = 0 < trainer.max_steps <= done * optimizer_steps_per_step
    return done % trainer.log_every_n_steps == 0 or last or bool(trainer.should_stop)
