"""Translates the GAN's iteration budget into Lightning's optimizer steps (see core/iterations.py)."""

from __future__ import annotations

import lightning as L

from cnngan.core.rank import log


class StepBudget:
    """Makes `trainer.max_steps` / `min_steps` count iterations of `steps_per_iteration` optimizer
    steps each; translating twice for the same trainer is a no-op (fit may be called again)."""

    def __init__(self) -> None:
        self._done_for: tuple[int, int] | None = None

    def translate(self, trainer: L.Trainer, steps_per_iteration: int) -> None:
        loop, k = trainer.fit_loop.epoch_loop, steps_per_iteration
        if self._done_for == (id(trainer), loop.max_steps):
            return
        if loop.max_steps > 0:
            iterations, loop.max_steps = loop.max_steps, loop.max_steps * k
            log.info(
                "trainer.max_steps=%d counts iterations (batches); Lightning counts %d optimizer "
                "steps per iteration, so the loop stops after %d optimizer steps.",
                iterations,
                k,
                loop.max_steps,
            )
        if loop.min_steps:
            loop.min_steps = loop.min_steps * k
        self._done_for = (id(trainer), loop.max_steps)
