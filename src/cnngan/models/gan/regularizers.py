"""Discriminator regularizers that penalize D's input gradients.

- R1 (Mescheder et al. 2018): E_x ||grad_x D(x)||^2 on real images; added as (gamma / 2) * R1.
- Gradient penalty (Gulrajani et al. 2017, WGAN-GP): E ( ||grad D(x_hat)||_2 - 1 )^2 on random
  interpolates x_hat between real and fake images; added as weight * GP (weight 10 in the paper).

Both need per-sample outputs: a discriminator with batch norm couples the samples of a batch
(use no normalization or layer norm with them). Both differentiate through the input gradient
(`create_graph=True`), so they are a second backward pass through D.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Tensor = torch.Tensor


def input_gradients(outputs: Tensor, inputs: Tensor) -> Tensor:
    """d(sum of outputs)/d inputs, kept in the graph so a penalty on it can be backpropagated."""
    (grads,) = torch.autograd.grad(outputs=outputs.float().sum(), inputs=inputs, create_graph=True)
    return grads


def r1_penalty(real_outputs: Tensor, real_inputs: Tensor) -> Tensor:
    """Mean over the batch of ||grad_x D(x)||^2; `real_inputs` must require grad and be what
    produced `real_outputs`."""
    grads = input_gradients(real_outputs, real_inputs)
    return grads.float().pow(2).flatten(1).sum(1).mean()


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Mean over the batch of (||grad D(x_hat)||_2 - 1)^2, x_hat = a * real + (1 - a) * fake with
    a ~ U[0, 1] per sample. `critic` maps images to outputs (labels already bound)."""
    alpha = torch.rand(
        real.shape[0], 1, 1, 1, device=real.device, generator=generator, dtype=real.dtype
    )
    mixed = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    grads = input_gradients(critic(mixed), mixed)
    return (grads.float().flatten(1).norm(2, dim=1) - 1.0).pow(2).mean()


def regularized_d_loss(
    loss: Tensor,
    critic: Callable[[Tensor], Tensor],
    real_in: Tensor,
    real_out: Tensor,
    fake_in: Tensor,
    r1_gamma: float,
    gp_weight: float,
) -> tuple[Tensor, dict[str, Tensor]]:
    """D's loss plus the penalties that are on (weight > 0): (total, {"d_loss", "r1", "gp"} as
    logged). R1 needs `real_in` to require grad and to be what produced `real_out`."""
    logs, total = {"d_loss": loss.detach()}, loss
    if r1_gamma > 0:
        logs["r1"] = r1_penalty(real_out, real_in)
        total = total + 0.5 * r1_gamma * logs["r1"]
    if gp_weight > 0:
        logs["gp"] = gradient_penalty(critic, real_in, fake_in)
        total = total + gp_weight * logs["gp"]
    return total, logs
