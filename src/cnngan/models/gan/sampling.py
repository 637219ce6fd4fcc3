"""Sampling helpers of the GAN: the latent noise (optionally truncated), the class labels the
generator gets for a batch of samples, and decoding latent vectors in chunks with the generator in
eval mode.

Truncation is the truncation trick of BigGAN (Brock et al. 2019) for the Gaussian latent: every
component of z is drawn from the standard normal truncated to [-t, t] (the same distribution as
redrawing each component with |z_i| > t until it is not). Smaller t trades variety for typical,
cleaner images; t = 3 keeps 99.7% of the standard normal (almost no truncation); None = off.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from cnngan.core.errors import BadInputError
from cnngan.models.gan.clusters import ClusterLabels


def latent_noise(
    n: int,
    dim: int,
    generator: torch.Generator | None = None,
    truncation: float | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """(n, dim) standard normal latents on `device` (default: the generator's); with
    `truncation` t, each component from the standard normal truncated to [-t, t], drawn exactly
    by inverting its CDF (no rejection loop). Without truncation it draws exactly what
    `torch.randn` draws from the same generator."""
    if device is None:
        device = generator.device if generator is not None else "cpu"
    if truncation is None:
        return torch.randn(n, dim, generator=generator, device=device)
    u = torch.rand(n, dim, generator=generator, dtype=torch.float64, device=device)
    t = torch.tensor(float(truncation), dtype=torch.float64, device=device)
    low, high = torch.special.ndtr(-t), torch.special.ndtr(t)
    return torch.special.ndtri(low + u * (high - low)).clamp(-t, t).float()


def check_truncation(truncation: Any, name: str = "truncation") -> float | None:
    """`name`=null (off) or a number above 0; anything else is the user's to fix."""
    if truncation is None:
        return None
    try:
        value = float(truncation)
    except (TypeError, ValueError):
        value = math.nan
    if not value > 0:  # also NaN
        raise BadInputError(
            f"{name}={truncation} must be a number above 0: latent components are kept in "
            f"[-t, t] (e.g. {name}=0.5; smaller = less variety), or {name}=null for none"
        )
    return value


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
    clusters: ClusterLabels | None
    hparams: Any
    device: torch.device

    @property
    def has_ema(self) -> bool:
        return self.generator_ema is not None

    def sampling_generator(self, use_ema: bool = True) -> nn.Module:
        """The EMA generator when there is one and `use_ema`, else the trained generator."""
        return self.generator_ema if use_ema and self.has_ema else self.generator

    def generator_labels(
        self,
        n: int,
        labels: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor | None:
        """The labels G gets for n samples: None for an unconditional model; balanced
        (i % num_classes) when not given; else the given ones, checked. A self-conditioned model
        (`clusters`) draws clusters in proportion to their sizes when none are given, from
        `generator`, else from a fixed seed (`val_seed`: the same z decode alike every time)."""
        hp = self.hparams
        if self.clusters is None:
            return generator_labels(n, labels, hp.conditional, hp.num_classes, self.device)
        if labels is None:
            generator = generator or torch.Generator().manual_seed(int(hp.val_seed))
            labels = self.clusters.draw(n, generator)
        return generator_labels(n, labels, True, self.clusters.num_clusters, self.device)

    @torch.no_grad()
    def decode(
        self,
        z: torch.Tensor,
        labels: torch.Tensor | None = None,
        use_ema: bool = True,
        batch_size: int = 1000,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Images in [-1, 1] (float32, on the module's device) for given latent vectors, with the
        generator in eval mode (its previous mode is restored afterwards); `generator` draws a
        self-conditioned model's clusters when no labels are given (`generator_labels`)."""
        net, shape = self.sampling_generator(use_ema), self.hparams.image_shape
        labels = self.generator_labels(z.shape[0], labels, generator)
        return decode_in_chunks(net, z.to(self.device), labels, batch_size, shape)

    @torch.no_grad()
    def generate(
        self,
        n: int,
        labels: torch.Tensor | None = None,
        use_ema: bool = True,
        generator: torch.Generator | None = None,
        truncation: float | None = None,
    ) -> torch.Tensor:
        """n images (n, C, H, W) in [-1, 1] on the module's device. With a conditional model and no
        labels, labels are balanced (i % num_classes). `generator` makes the noise reproducible;
        `truncation` t draws the latent from the normal truncated to [-t, t] (`latent_noise`)."""
        device = generator.device if generator is not None else self.device
        z = latent_noise(n, self.hparams.latent_dim, generator, truncation, device)
        return self.decode(z, labels, use_ema, generator=generator)
