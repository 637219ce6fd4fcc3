"""The gradient norms the GAN logs (train/g_grad_norm, train/d_grad_norm), measured only on the
iterations whose logged values Lightning writes to the loggers (`cnngan.models.step_logs`):
measuring every optimizer step costs a reduction over every gradient for values that are thrown
away."""

from __future__ import annotations

import torch

from cnngan.models.optimization import gradient_norm


class GradientNorms:
    """Each net's gradient norm at its last optimizer step of the current iteration, when the
    iteration logs them (`start` decides); the norms are measured before clipping."""

    def __init__(self) -> None:
        self.values: dict[str, torch.Tensor] = {}
        self.measuring = False

    def start(self, measuring: bool) -> None:
        """Forget the previous iteration's norms; measure in this one if it logs them."""
        self.values = {}
        self.measuring = measuring

    def measure(self, net: str, optimizer: torch.optim.Optimizer) -> None:
        if self.measuring and (norm := gradient_norm(optimizer)) is not None:
            self.values[net] = norm

    def logged(self) -> dict[str, torch.Tensor]:
        """What to log this iteration: {"train/<net>_grad_norm": norm}, empty when not measured."""
        return {f"train/{net}_grad_norm": norm for net, norm in self.values.items()}
