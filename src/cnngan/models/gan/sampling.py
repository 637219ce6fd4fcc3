"""Sampling helpers of the GAN: the class labels the generator gets for a batch of samples, and
decoding latent vectors in chunks with the generator in eval mode."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn


def balanced_labels(n: int, num_classes: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Labels 0, 1, ..., C - 1, 0, 1, ... for n samples (i % C): every class equally often."""
    return torch.arange(n, device=device) % num_classes


def generator_labels(
    n: int,
    labels: torch.Tensor | None,
    conditional: bool,
    num_classes: int,
    device: torch.device | str = "cpu",
) -> torch.Tensor | None:
    """What the generator gets as labels for n samples: None for an unconditional model (given
    labels are refused); else the given labels, checked, or `balanced_labels` when none are."""
    if not conditional:
        if labels is not None:
            raise ValueError("this GAN is unconditional; do not pass labels")
        return None
    if labels is None:
        return balanced_labels(n, num_classes, device)
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


class GeneratorSampling:
    """The GAN's sampling API (mixed into `GAN`): images in [-1, 1] from the EMA or the trained
    generator, for given latent vectors or fresh noise, with labels for a conditional model.
    Reads the module's `generator`, `generator_ema` (None without EMA), `device` and the hparams
    latent_dim, image_shape, conditional and num_classes."""

    generator: nn.Module
    generator_ema: nn.Module | None
    hparams: Any
    device: torch.device

    @property
    def has_ema(self) -> bool:
        return self.generator_ema is not None

    def sampling_generator(self, use_ema: bool = True) -> nn.Module:
        """The EMA generator when there is one and `use_ema`, else the trained generator."""
        return self.generator_ema if use_ema and self.has_ema else self.generator

    def generator_labels(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor | None:
        """The labels G gets for n samples: None for an unconditional model; balanced
        (i % num_classes) when not given; else the given ones, checked."""
        hp = self.hparams
        return generator_labels(n, labels, hp.conditional, hp.num_classes, self.device)

    @torch.no_grad()
    def decode(
        self,
        z: torch.Tensor,
        labels: torch.Tensor | None = None,
        use_ema: bool = True,
        batch_size: int = 1000,
    ) -> torch.Tensor:
        """Images in [-1, 1] (float32, on the module's device) for given latent vectors, with the
        generator in eval mode (its previous mode is restored afterwards)."""
        net, shape = self.sampling_generator(use_ema), self.hparams.image_shape
        labels = self.generator_labels(z.shape[0], labels)
        return decode_in_chunks(net, z.to(self.device), labels, batch_size, shape)

    @torch.no_grad()
    def generate(
        self,
        n: int,
        labels: torch.Tensor | None = None,
        use_ema: bool = True,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """n images (n, C, H, W) in [-1, 1] on the module's device. With a conditional model and no
        labels, labels are balanced (i % num_classes). `generator` makes the noise reproducible."""
        device = generator.device if generator is not None else self.device
        z = torch.randn(n, self.hparams.latent_dim, generator=generator, device=device)
        return self.decode(z, labels, use_ema)
