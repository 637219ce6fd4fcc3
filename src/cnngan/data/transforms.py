"""Whole-batch image transforms that run on the training device (no per-image Python work)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F


def random_crop(
    images: torch.Tensor, padding: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Pad every image by `padding` zeros and cut a random crop of the original size from each.

    One gather over the whole batch: each image gets its own random offset.
    """
    if padding <= 0:
        return images
    n, _, h, w = images.shape
    padded = F.pad(images, (padding, padding, padding, padding))
    dev = images.device
    off_y = torch.randint(0, 2 * padding + 1, (n,), device=dev, generator=generator)
    off_x = torch.randint(0, 2 * padding + 1, (n,), device=dev, generator=generator)
    rows = (off_y[:, None] + torch.arange(h, device=dev))[:, :, None]  # (n, h, 1)
    cols = (off_x[:, None] + torch.arange(w, device=dev))[:, None, :]  # (n, 1, w)
    batch = torch.arange(n, device=dev)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def random_hflip(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Flip a random half of the batch left-right."""
    flip = torch.rand(images.shape[0], device=images.device, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


def random_erasing(
    images: torch.Tensor,
    p: float = 0.5,
    scale: tuple[float, float] = (0.02, 0.33),
    ratio: tuple[float, float] = (0.3, 3.3),
    value: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Random erasing (Zhong et al. 2020): with probability `p`, fill one random rectangle of each
    image with `value`. The rectangle covers a fraction `scale` of the image with aspect ratio
    (height / width) in `ratio`, drawn log-uniformly as in torchvision's RandomErasing; one that
    does not fit is clipped to the image (torchvision redraws it instead).

    Works on the whole batch at once; with normalized inputs `value=0` erases to the data mean.
    """
    if p <= 0:
        return images
    n, _, h, w = images.shape
    dev = images.device

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, device=dev, generator=generator)

    area = uniform(*scale) * h * w
    aspect = torch.exp(uniform(math.log(ratio[0]), math.log(ratio[1])))
    eh = (area * aspect).sqrt().round().clamp(1, h).long()
    ew = (area / aspect).sqrt().round().clamp(1, w).long()
    top = (uniform(0, 1) * (h - eh + 1)).long()
    left = (uniform(0, 1) * (w - ew + 1)).long()
    rows = torch.arange(h, device=dev)[None, :]
    cols = torch.arange(w, device=dev)[None, :]
    in_rows = (rows >= top[:, None]) & (rows < (top + eh)[:, None])  # (n, h)
    in_cols = (cols >= left[:, None]) & (cols < (left + ew)[:, None])  # (n, w)
    chosen = uniform(0, 1) < p
    mask = in_rows[:, :, None] & in_cols[:, None, :] & chosen[:, None, None]
    return images.masked_fill(mask[:, None], value)


class BatchTransform:
    """uint8 (N, C, H, W) -> normalized float, with optional training augmentation.

    Augmentation (crop with padding, horizontal flip) runs on the uint8 batch before conversion;
    random erasing (probability `erase_p`) runs after normalization and erases to the mean.
    """

    def __init__(
        self,
        mean: Sequence[float],
        std: Sequence[float],
        crop_padding: int = 0,
        hflip: bool = False,
        erase_p: float = 0.0,
        channels_last: bool = False,
    ) -> None:
        self.mean = torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1)
        self.crop_padding = int(crop_padding)
        self.hflip = bool(hflip)
        if not 0.0 <= float(erase_p) <= 1.0:
            raise ValueError(f"augment.erase_p must be a probability in [0, 1], got {erase_p}")
        self.erase_p = float(erase_p)
        self.channels_last = channels_last

    def __call__(self, images: torch.Tensor, train: bool = False) -> torch.Tensor:
        if images.dtype != torch.uint8:
            raise TypeError(f"BatchTransform expects uint8 images, got {images.dtype}")
        if train:
            images = random_crop(images, self.crop_padding)
            if self.hflip:
                images = random_hflip(images)
        x = self.normalize(images.float().div_(255.0))
        if train and self.erase_p > 0:
            x = random_erasing(x, p=self.erase_p)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def normalize(self, x01: torch.Tensor) -> torch.Tensor:
        """[0, 1] floats -> normalized floats."""
        mean, std = self.mean.to(x01.device), self.std.to(x01.device)
        return (x01 - mean) / std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """Normalized floats -> [0, 1] floats (for saving images)."""
        mean, std = self.mean.to(x.device), self.std.to(x.device)
        return (x * std + mean).clamp_(0.0, 1.0)
