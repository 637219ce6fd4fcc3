"""Class-conditional batch norm (de Vries et al. 2017; the generators of Miyato & Koyama 2018 and
BigGAN): batch statistics shared by all classes, a gain and a bias per class.

    y = gain[label] * (x - mean) / sqrt(var + eps) + bias[label]

A generator with it can shape every feature map by class, not only its input; each class keeps
its own scale and shift, which helps one class keep its own variety.
"""

from __future__ import annotations

import torch
from torch import nn


class ClassConditionalBatchNorm2d(nn.Module):
    """Batch norm over (N, H, W) without its own affine parameters, then a per-class gain and
    bias looked up from two embeddings (initialized to the identity: gain 1, bias 0)."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Embedding(num_classes, channels)
        self.bias = nn.Embedding(num_classes, channels)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        gain = self.gain(labels)[:, :, None, None]
        bias = self.bias(labels)[:, :, None, None]
        return gain * self.norm(x) + bias
