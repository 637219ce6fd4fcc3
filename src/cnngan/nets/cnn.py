"""The classic CNN: blocks of (conv, [batch norm], activation) x n, then max or average pooling,
then fully connected layers."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU, "silu": nn.SiLU}
POOLS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


def make_activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def conv_block(
    c_in: int, c_out: int, convs: int, kernel_size: int, batch_norm: bool, activation: str
) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i in range(convs):
        layers.append(
            nn.Conv2d(
                c_in if i == 0 else c_out,
                c_out,
                kernel_size,
                padding=kernel_size // 2,
                bias=not batch_norm,
            )
        )
        if batch_norm:
            layers.append(nn.BatchNorm2d(c_out))
        layers.append(make_activation(activation))
    return layers


class ConvNet(nn.Module):
    """Conv blocks, each ending in a 2x2 pooling layer (`pool="max"` or `"avg"`), then an MLP head.

    Args:
        in_shape: (C, H, W) of the input images.
        channels: output channels of each block; one pooling per block halves H and W.
        convs_per_block: convolutions inside each block.
        fc_dims: hidden sizes of the fully connected head.
        global_pool: average the last feature map to 1x1 before the head (fewer parameters).
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        num_classes: int,
        channels: Sequence[int] = (32, 64),
        convs_per_block: int = 1,
        kernel_size: int = 3,
        batch_norm: bool = True,
        pool: str = "max",
        activation: str = "relu",
        fc_dims: Sequence[int] = (128,),
        dropout: float = 0.0,
        global_pool: bool = False,
    ) -> None:
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f"unknown pool {pool!r}; choose 'max' or 'avg'")
        c, h, w = (int(s) for s in in_shape)
        if min(h, w) < 2 ** len(channels):
            raise ValueError(
                f"images of {h}x{w} are too small for {len(channels)} pooling blocks (each halves "
                f"the size): use at most {max(0, min(h, w).bit_length() - 1)} entries in channels."
            )
        layers: list[nn.Module] = []
        for c_out in channels:
            layers += conv_block(c, c_out, convs_per_block, kernel_size, batch_norm, activation)
            layers.append(POOLS[pool](2))
            c, h, w = c_out, h // 2, w // 2
        if global_pool:
            layers.append(nn.AdaptiveAvgPool2d(1))
            h = w = 1
        self.features = nn.Sequential(*layers, nn.Flatten())
        head: list[nn.Module] = []
        width = c * h * w
        for dim in fc_dims:
            head += [nn.Dropout(dropout), nn.Linear(width, dim), make_activation(activation)]
            width = dim
        self.embedding = nn.Sequential(*head)
        self.num_features = width
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, num_classes))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer features (input of the last linear layer)."""
        return self.embedding(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))
