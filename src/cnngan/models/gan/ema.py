"""An exponential moving average (EMA) of a network's weights: the GAN's sampling generator.

The EMA copy is a plain deep copy of the network, held by the LightningModule as an ordinary
submodule, so checkpoints store it under the network's own parameter names
(`generator_ema.<name>`), as they always have.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def ema_copy(net: nn.Module) -> nn.Module:
    """A frozen copy of `net` to average into."""
    return copy.deepcopy(net).requires_grad_(False)


def check_decay(decay: float | None) -> None:
    if decay is not None and not 0.0 <= decay < 1.0:
        raise ValueError(f"ema_decay={decay} must be in [0, 1) (or null for no EMA)")


def decay_at(iteration: int, decay: float, start: int) -> float:
    """The decay to apply after `iteration` (1 = the first): 0 (a copy) up to `start`, then
    `decay`."""
    return 0.0 if iteration <= start else decay


@torch.no_grad()
def update_ema(ema: nn.Module, net: nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * net for parameters (decay 0 copies exactly); buffers
    (batch-norm statistics) are copied, not averaged."""
    ema_params, params = list(ema.parameters()), list(net.parameters())
    if decay == 0.0:
        torch._foreach_copy_(ema_params, params)
    else:
        torch._foreach_lerp_(ema_params, params, 1.0 - decay)
    for ema_buffer, buffer in zip(ema.buffers(), net.buffers(), strict=True):
        ema_buffer.copy_(buffer)
