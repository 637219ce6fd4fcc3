"""The gradient norms the GAN logs (train/g_grad_norm, train/d_grad_norm), measured only on the
iterations whose logged values Lightning writes to the loggers: measuring every optimizer step
costs a reduction over every gradient for values that are thrown away."""

from __future__ import annotations

from typing import Any

import torch

from cnngan.models.optimization import gradient_norm


def logs_this_iteration(trainer: Any, iteration: int, optimizer_steps_per_iteration: int) -> bool:
    """Whether Lightning writes what iteration `iteration` (0-based) logs: every
    `log_every_n_steps`-th iteration (its logging step counts batches), every one under
    fast_dev_run, and the one where it stops: the last of `max_steps` (translated into optimizer
    steps), or after a callback asked to stop. A stop Lightning cannot announce before the batch
    (max_time) writes the norms of the last logging step again."""
    if trainer.fast_dev_run:
        return True
    if not trainer.log_every_n_steps:
        return False
    done = iteration + 1
    last = 0 < trainer.max_steps <= done * optimizer_steps_per_iteration
    return done % trainer.log_every_n_steps == 0 or last or bool(trainer.should_stop)


class GradientNorms:
    """Each net's gradient norm at its last optimizer step of the current iteration, when the
    iteration logs them (`start` decides); the norms are measured before clipping."""

    def __init__(self) -> None:
        self.values: dict[str, torch.Tensor] = {}
        self.measuring = False

    def start(self, trainer: Any, iteration: int, optimizer_steps_per_iteration: int) -> None:
        """Forget the previous iteration's norms; measure in this one if it logs them."""
        self.values = {}
        self.measuring = logs_this_iteration(trainer, iteration, optimizer_steps_per_iteration)

    def measure(self, net: str, optimizer: torch.optim.Optimizer) -> None:
        if self.measuring and (norm := gradient_norm(optimizer)) is not None:
            self.values[net] = norm

    def logged(self) -> dict[str, torch.Tensor]:
        """What to log this iteration: {"train/<net>_grad_norm": norm}, empty when not measured."""
        return {f"train/{net}_grad_norm": norm for net, norm in self.values.items()}
