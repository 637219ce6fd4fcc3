"""Whole-batch image transforms that run on the training device (no per-image Python work)."""

from __future__ import annotations

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


class BatchTransform:
    """uint8 (N, C, H, W) -> normalized float, with optional training augmentation.

    Augmentation (crop with padding, horizontal flip) runs on the uint8 batch before conversion.
    """

    def __init__(
        self,
        mean: Sequence[float],
        std: Sequence[float],
        crop_padding: int = 0,
        hflip: bool = False,
        channels_last: bool = False,
    ) -> None:
        self.mean = torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1)
        self.crop_padding = int(crop_padding)
        self.hflip = bool(hflip)
        self.channels_last = channels_last

    def __call__(self, images: torch.Tensor, train: bool = False) -> torch.Tensor:
        if images.dtype != torch.uint8:
            raise TypeError(f"BatchTransform expects uint8 images, got {images.dtype}")
        if train:
            images = random_crop(images, self.crop_padding)
            if self.hflip:
                images = random_hflip(images)
        x = self.normalize(images.float().div_(255.0))
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
