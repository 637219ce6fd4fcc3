"""Training iterations vs Lightning's optimizer steps.

A module that steps several optimizers per batch under manual optimization (the GAN: n_critic
D steps + 1 G step) advances `trainer.global_step` by that many per batch. Users count batches
("iterations"), so such a module declares `optimizer_steps_per_iteration`; the run layer builds
the Trainer with `max_steps` / `min_steps` translated into optimizer steps
(`cnngan.run.trainer.build_trainer`), and callbacks ask `training_iteration` rather than reading
`global_step`.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class CountsIterations(Protocol):
    """A LightningModule whose `global_step` runs ahead of the batches it trained on."""

    @property
    def optimizer_steps_per_iteration(self) -> int:
        """Optimizer steps per training iteration (batch)."""
        ...

    @property
    def iteration(self) -> int:
        """Training iterations (batches) completed."""
        ...


def optimizer_steps_per_iteration(module: Any) -> int:
    """How many optimizer steps one batch of `module` makes: its own count, else 1."""
    return int(module.optimizer_steps_per_iteration if isinstance(module, CountsIterations) else 1)


def training_iteration(trainer: Any, module: Any) -> int:
    """Training iterations (batches) completed: the module's own count, else the global step."""
    return int(module.iteration if isinstance(module, CountsIterations) else trainer.global_step)
