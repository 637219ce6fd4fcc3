"""Crop (padding 2) + flip + normalize of Fashion-MNIST-sized images: cnngan's batched transform
against torchvision's per-image transforms (what a Dataset.__getitem__ does)."""

from __future__ import annotations

import time

import torch

from cnngan.data.transforms import BatchTransform


def augment_micro(n: int = 8192, batch: int = 128) -> dict[str, float]:
    images = torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8)
    batched = BatchTransform([0.286], [0.353], crop_padding=2, hflip=True)
    start = time.perf_counter()
    for i in range(0, n, batch):
        batched(images[i : i + batch], train=True)
    out: dict[str, float] = {"batched_imgs_per_s": n / (time.perf_counter() - start)}
    try:
        from torchvision.transforms import v2
    except ImportError:
        return out
    per_image = v2.Compose(
        [
            v2.RandomCrop(28, padding=2),
            v2.RandomHorizontalFlip(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize([0.286], [0.353]),
        ]
    )
    m = n // 4  # per-image work is slow; a quarter of the images is enough to time it
    start = time.perf_counter()
    for i in range(0, m, batch):
        torch.stack([per_image(img) for img in images[i : i + batch]])
    out["per_image_imgs_per_s"] = m / (time.perf_counter() - start)
    out["speedup"] = out["batched_imgs_per_s"] / out["per_image_imgs_per_s"]
    return out
