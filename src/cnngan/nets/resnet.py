"""A small pre-activation ResNet (He et al. 2016) for 28x28 / 32x32 images."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F


class PreActBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.shortcut = None
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Conv2d(c_in, c_out, 1, stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(x))
        skip = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + skip


class ResNet(nn.Module):
    """Stem conv, then stages of pre-activation blocks (stride 2 between stages), global average
    pooling and a linear classifier."""

    def __init__(
        self,
        in_shape: Sequence[int],
        num_classes: int,
        widths: Sequence[int] = (32, 64, 128),
        blocks_per_stage: int = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        c, h, w = (int(s) for s in in_shape)
        if min(h, w) < 2 ** (len(widths) - 1):
            raise ValueError(f"images of {h}x{w} are too small for {len(widths)} ResNet stages")
        self.stem = nn.Conv2d(c, widths[0], 3, 1, 1, bias=False)
        blocks: list[nn.Module] = []
        c_in = widths[0]
        for i, width in enumerate(widths):
            for j in range(blocks_per_stage):
                blocks.append(PreActBlock(c_in, width, stride=2 if (i > 0 and j == 0) else 1))
                c_in = width
        self.blocks = nn.Sequential(*blocks)
        self.head_norm = nn.BatchNorm2d(c_in)
        self.num_features = c_in
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(c_in, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        out = self.blocks(self.stem(x))
        return F.adaptive_avg_pool2d(F.relu(self.head_norm(out)), 1).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.embed(x)))
