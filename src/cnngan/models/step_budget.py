"""Training iterations vs Lightning's optimizer steps.

A module that steps several optimizers per batch under manual optimization (the GAN: n_critic
D steps + 1 G step) advances `trainer.global_step` by that many per batch. Users count batches
("iterations"), so such a module reads `trainer.max_steps` / `min_steps` as iterations and
translates them into optimizer steps when fitting starts, and callbacks ask
`training_iteration` rather than reading `global_step`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import lightning as L

from cnngan.utils.rank import log


@runtime_checkable
class CountsIterations(Protocol):
    """A LightningModule whose `global_step` runs ahead of the batches it trained on."""

    @property
    def iteration(self) -> int:
        """Training iterations (batches) completed."""
        ...


def training_iteration(trainer: L.Trainer, module: L.LightningModule) -> int:
    """Training iterations (batches) completed: the module's own count, else the global step."""
    return int(module.iteration if isinstance(module, CountsIterations) else trainer.global_step)


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
