"""Helpers shared by the GAN networks (MLP and DCGAN)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

SPECTRAL_NORM_TYPES = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.Embedding)


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectrally normalize every linear, convolution and embedding weight inside `module`."""
    for layer in [m for m in module.modules() if isinstance(m, SPECTRAL_NORM_TYPES)]:
        spectral_norm(layer)
    return module


def check_labels(labels: torch.Tensor | None, ref: torch.Tensor, num_classes: int) -> torch.Tensor:
    """The labels of a conditional net's batch: required, one integer per sample of `ref`."""
    if labels is None:
        raise ValueError(f"this network is class-conditional ({num_classes} classes): pass labels")
    if labels.dim() != 1 or labels.shape[0] != ref.shape[0]:
        raise ValueError(f"labels must have shape ({ref.shape[0]},), got {tuple(labels.shape)}")
    if labels.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"labels must be int64 class indices, got {labels.dtype}")
    return labels.long()


def projection_logits(
    h: torch.Tensor,
    head: nn.Module,
    embed: nn.Embedding | None,
    labels: torch.Tensor | None,
    num_classes: int,
) -> torch.Tensor:
    """A discriminator's output from its features `h` (N, F): the linear head, plus the projection
    term <embed(y), h> of a class-conditional discriminator (Miyato & Koyama 2018)."""
    out = head(h).squeeze(1)
    if embed is not None:
        out = out + (embed(check_labels(labels, h, num_classes)) * h).sum(dim=1)
    return out
