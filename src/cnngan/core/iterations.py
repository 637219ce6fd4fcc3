"""Training iterations vs Lightning's optimizer steps.

A module that steps several optimizers per batch under manual optimization (the GAN: n_critic
D steps + 1 G step) advances `trainer.global_step` by that many per batch. Users count batches
("iterations"), so such a module reads `trainer.max_steps` / `min_steps` as iterations and
translates them into optimizer steps when fitting starts, and callbacks ask
`training_iteration` rather than reading `global_step`.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class CountsIterations(Protocol):
    """A LightningModule whose `global_step` runs ahead of the batches it trained on."""

    @property
    def iteration(self) -> int:
        """Training iterations (batches) completed."""
        ...


def training_iteration(trainer: Any, module: Any) -> int:
    """Training iterations (batches) completed: the module's own count, else the global step."""
    return int(module.iteration if isinstance(module, CountsIterations) else trainer.global_step)
