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
from dataclasses import dataclass

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


def critic_outputs(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    joint_critic: Callable[[Tensor], Tensor] | None = None,
) -> tuple[Tensor, Tensor]:
    """D's float32 outputs on the real and on the fake batch: two calls of `critic`, or one call
    of `joint_critic` on the two concatenated (real first), split back."""
    if joint_critic is None:
        return critic(real).float(), critic(fake).float()
    out = joint_critic(torch.cat([real, fake])).float()
    return out[: real.shape[0]], out[real.shape[0] :]


@dataclass(frozen=True)
class DiscriminatorLoss:
    """One discriminator step's loss: `total` (what D's optimizer minimizes), `logs` (detached:
    d_loss, and r1 / gp where on) and D's raw outputs on the real and fake batch (float32)."""

    total: Tensor
    logs: dict[str, Tensor]
    real_out: Tensor
    fake_out: Tensor


def regularized_d_loss(
    *,
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    loss: Callable[[Tensor, Tensor], Tensor],
    r1_gamma: float = 0.0,
    gp_weight: float = 0.0,
    joint_critic: Callable[[Tensor], Tensor] | None = None,
) -> DiscriminatorLoss:
    """Run D (`critic`, labels bound) on a real and a fake batch (as D sees them, augmented) and
    add the penalties that are on (weight > 0) to `loss(real_out, fake_out)`.

    `joint_critic` (D with the labels of both halves bound): D sees the real and the fake batch
    as one batch, real images first, in one forward and one backward instead of two. Without
    batch norm in D that is the same math; with it, D's statistics are those of the mixed batch.

    R1 differentiates D's outputs with respect to its real input, so with R1 on D sees `real` as
    a fresh leaf that requires grad: the caller's tensor is not changed and needs no preparation.
    """
    real_in = real.detach().requires_grad_(True) if r1_gamma > 0 else real
    real_out, fake_out = critic_outputs(critic, real_in, fake, joint_critic)
    base = loss(real_out, fake_out)
    logs, total = {"d_loss": base.detach()}, base
    if r1_gamma > 0:
        r1 = r1_penalty(real_out, real_in)
        logs["r1"], total = r1.detach(), total + 0.5 * r1_gamma * r1
    if gp_weight > 0:
        gp = gradient_penalty(critic, real_in, fake)
        logs["gp"], total = gp.detach(), total + gp_weight * gp
    return DiscriminatorLoss(total, logs, real_out, fake_out)
