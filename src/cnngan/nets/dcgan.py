"""DCGAN (Radford et al. 2016) generator and discriminator, sized from the image shape.

The image sides are halved k times down to a base size of at least 4 (28x28 -> 7x7 with k=2,
32x32 -> 4x4 with k=3, 8x8 -> 4x4 with k=1). The generator projects z to the base size and
doubles it k times with stride-2 transposed convolutions (batch norm + ReLU, tanh output); the
discriminator mirrors it with stride-2 convolutions (leaky ReLU) and a linear head. `width` is
the channel count next to the image (the generator's last hidden layer, the discriminator's
first); it doubles at every lower resolution, up to `max_width`. With the defaults, 28x28x1 gives
the classic G of 766k and D of 139k parameters.

Class-conditional variants: the generator concatenates a label embedding to z and, with
`conditional_norm`, also gives every batch norm a gain and bias per class (class-conditional batch
norm); the discriminator is a projection discriminator (Miyato & Koyama 2018):
logit = head(h) + <embed(y), h>.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
from torch import nn

from cnngan.nets.conditional_norm import ClassConditionalBatchNorm2d
from cnngan.nets.gan_common import apply_spectral_norm, check_labels, projection_logits

NORMS = ("none", "batch", "layer")


def dcgan_layout(image_shape: Sequence[int]) -> tuple[int, int, int]:
    """(base height, base width, number of stride-2 layers) for an image shape (C, H, W)."""
    _, h, w = (int(s) for s in image_shape)
    k = 0
    while h % 2 == 0 and w % 2 == 0 and min(h, w) // 2 >= 4:
        h, w, k = h // 2, w // 2, k + 1
    if k == 0:
        raise ValueError(
            f"DCGAN cannot take {image_shape[1]}x{image_shape[2]} images: their sides must halve at "
            "least once to a size of 4 or more (e.g. 8x8, 28x28, 32x32, 64x64). Use the MLP GAN "
            "(model=gan_mlp) or resize the data."
        )
    return h, w, k


def _widths(width: int, max_width: int, k: int) -> list[int]:
    """Channel counts from the image side inwards: width, 2*width, ... (capped)."""
    return [min(width * 2**i, max_width) for i in range(k)]


def dcgan_init_(module: nn.Module) -> None:
    """The DCGAN paper's initialization: conv/linear weights N(0, 0.02), norm gains N(1, 0.02)
    (the per-class gains of a class-conditional batch norm too)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm) and m.affine:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, ClassConditionalBatchNorm2d):
            nn.init.normal_(m.gain.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias.weight)


class DCGANGenerator(nn.Module):
    """z (N, latent_dim) [+ labels (N,)] -> images (N, C, H, W) in [-1, 1].

    Args:
        conditional: take class labels: their embedding (`embed_dim` wide) is concatenated to z.
        conditional_norm: with `conditional`, every batch norm gets a gain and bias per class
            (`ClassConditionalBatchNorm2d`). Off by default: the layers, and so the checkpoints,
            of a generator without it stay as they were.
    """

    def __init__(
        self,
        latent_dim: int,
        image_shape: Sequence[int],
        width: int = 64,
        max_width: int = 512,
        num_classes: int = 10,
        conditional: bool = False,
        embed_dim: int = 32,
        dcgan_init: bool = True,
        conditional_norm: bool = False,
    ) -> None:
        super().__init__()
        if conditional_norm and not conditional:
            raise ValueError(
                "conditional_norm=true needs a conditional generator (conditional=true): "
                "an unconditional one has no labels to condition its batch norm on"
            )
        self.latent_dim = int(latent_dim)
        self.image_shape = tuple(int(s) for s in image_shape)
        self.num_classes, self.conditional = int(num_classes), bool(conditional)
        h0, w0, k = dcgan_layout(self.image_shape)
        widths = _widths(width, max_width, k)[::-1]  # lowest resolution first
        self.base_shape = (widths[0], h0, w0)
        self.embed = nn.Embedding(self.num_classes, embed_dim) if self.conditional else None
        in_dim = self.latent_dim + (embed_dim if self.conditional else 0)
        self.project = nn.Linear(in_dim, widths[0] * h0 * w0, bias=False)
        norm = self._norm_factory(bool(conditional_norm))
        layers: list[nn.Module] = [norm(widths[0]), nn.ReLU(inplace=True)]
        for c_in, c_out in zip(widths[:-1], widths[1:], strict=True):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                norm(c_out),
                nn.ReLU(inplace=True),
            ]
        layers += [nn.ConvTranspose2d(widths[-1], self.image_shape[0], 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        if dcgan_init:
            dcgan_init_(self)

    def _norm_factory(self, conditional_norm: bool) -> type[nn.Module] | partial[nn.Module]:
        if conditional_norm:
            return partial(ClassConditionalBatchNorm2d, num_classes=self.num_classes)
        return nn.BatchNorm2d

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            labels = check_labels(labels, z, self.num_classes)
            z = torch.cat([z, self.embed(labels)], dim=1)
        h = self.project(z).view(-1, *self.base_shape)
        for layer in self.net:
            h = layer(h, labels) if isinstance(layer, ClassConditionalBatchNorm2d) else layer(h)
        return h


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.GroupNorm(1, channels)  # "layer": normalizes over (C, H, W) of each sample


class DCGANDiscriminator(nn.Module):
    """Images (N, C, H, W) [+ labels (N,)] -> one logit per image, shape (N,).

    Args:
        norm: normalization after every conv but the first: "none", "batch" or "layer"
            (per-sample; use "none" or "layer" with a gradient penalty, as batch norm mixes
            samples).
        spectral_norm: spectral normalization of every weight (SNGAN).
        dropout: dropout after every activation.
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        width: int = 64,
        max_width: int = 512,
        norm: str = "none",
        spectral_norm: bool = False,
        dropout: float = 0.0,
        negative_slope: float = 0.2,
        num_classes: int = 10,
        conditional: bool = False,
        dcgan_init: bool = True,
    ) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"unknown norm {norm!r}; choose one of {NORMS}")
        self.image_shape = tuple(int(s) for s in image_shape)
        self.num_classes, self.conditional = int(num_classes), bool(conditional)
        h0, w0, k = dcgan_layout(self.image_shape)
        widths = _widths(width, max_width, k)
        layers: list[nn.Module] = []
        c_in = self.image_shape[0]
        for i, c_out in enumerate(widths):
            normed = i > 0 and norm != "none"
            layers.append(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not normed))
            if normed:
                layers.append(_norm(norm, c_out))
            layers.append(nn.LeakyReLU(negative_slope, inplace=True))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            c_in = c_out
        self.features = nn.Sequential(*layers, nn.Flatten())
        num_features = widths[-1] * h0 * w0
        self.head = nn.Linear(num_features, 1)
        self.embed = nn.Embedding(self.num_classes, num_features) if self.conditional else None
        if dcgan_init:
            dcgan_init_(self)
        if self.embed is not None:
            nn.init.xavier_uniform_(self.embed.weight)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return projection_logits(self.features(x), self.head, self.embed, labels, self.num_classes)
