"""Sampling helpers of the GAN: class labels for a batch of samples, and decoding latent vectors
in chunks with the generator in eval mode."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def sample_labels(
    n: int,
    labels: torch.Tensor | None,
    conditional: bool,
    num_classes: int,
    device: torch.device | str = "cpu",
) -> torch.Tensor | None:
    """Labels for n samples: None for an unconditional model; balanced (i % num_classes) when not
    given; else the given ones, checked."""
    if not conditional:
        if labels is not None:
            raise ValueError("this GAN is unconditional; do not pass labels")
        return None
    if labels is None:
        return torch.arange(n, device=device) % num_classes
    labels = torch.as_tensor(labels, device=device).long().flatten()
    if labels.numel() != n:
        raise ValueError(f"got {labels.numel()} labels for {n} samples")
    if n and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f"labels must be in [0, {num_classes - 1}]")
    return labels


@torch.no_grad()
def decode_in_chunks(
    net: nn.Module,
    z: torch.Tensor,
    labels: torch.Tensor | None,
    batch_size: int,
    image_shape: Sequence[int],
) -> torch.Tensor:
    """net(z, labels) in chunks of `batch_size`, in eval mode (the net's mode is restored
    afterwards): float32 images of `image_shape`, clamped to [-1, 1]."""
    was_training = net.training
    net.eval()
    try:
        chunks = [
            net(z[i : i + batch_size], None if labels is None else labels[i : i + batch_size])
            for i in range(0, z.shape[0], batch_size)
        ]
    finally:
        net.train(was_training)
    images = torch.cat(chunks) if chunks else z.new_empty((0, *image_shape))
    return images.float().clamp_(-1.0, 1.0).contiguous()
