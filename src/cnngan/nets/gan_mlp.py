"""The seed's MLP GAN: a fully connected generator and discriminator.

Generator: z (100) -> dense 128 -> dense 128 -> dense C*H*W, leaky ReLU between layers and tanh at
the output. Discriminator: image -> dense 128 -> dense 128 -> 1 logit, leaky ReLU. Both take an
optional class label (`conditional=True`): the generator concatenates a label embedding to z, the
discriminator adds a projection term <embed(y), features> to its logit (Miyato & Koyama 2018).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from cnngan.nets.gan_common import apply_spectral_norm, check_labels, projection_logits


class MLPGenerator(nn.Module):
    """z -> dense layers (leaky ReLU) -> C*H*W values in [-1, 1] (tanh), reshaped to an image.

    Args:
        latent_dim: size of the noise vector z.
        image_shape: (C, H, W) of the images to produce.
        hidden_dims: sizes of the hidden dense layers (the seed: 128, 128).
        negative_slope: slope of the leaky ReLU.
        num_classes, conditional: with `conditional=True` the label's embedding (`embed_dim`
            values) is concatenated to z.
    """

    def __init__(
        self,
        latent_dim: int,
        image_shape: Sequence[int],
        hidden_dims: Sequence[int] = (128, 128),
        negative_slope: float = 0.2,
        num_classes: int = 10,
        conditional: bool = False,
        embed_dim: int = 32,
    ) -> None:
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.image_shape = tuple(int(s) for s in image_shape)
        self.num_classes, self.conditional = int(num_classes), bool(conditional)
        self.embed = nn.Embedding(self.num_classes, embed_dim) if self.conditional else None
        width = self.latent_dim + (embed_dim if self.conditional else 0)
        layers: list[nn.Module] = []
        for dim in hidden_dims:
            layers += [nn.Linear(width, dim), nn.LeakyReLU(negative_slope)]
            width = dim
        layers += [nn.Linear(width, math.prod(self.image_shape)), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(check_labels(labels, z, self.num_classes))], dim=1)
        return self.net(z).view(-1, *self.image_shape)


class MLPDiscriminator(nn.Module):
    """Flattened image -> dense layers (leaky ReLU) -> one logit per image, shape (N,).

    Args:
        image_shape: (C, H, W) of the input images.
        hidden_dims: sizes of the hidden dense layers (the seed: 128, 128).
        spectral_norm: spectral normalization of every weight (Miyato et al. 2018).
        num_classes, conditional: with `conditional=True` a projection term adds the label.
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        hidden_dims: Sequence[int] = (128, 128),
        negative_slope: float = 0.2,
        num_classes: int = 10,
        conditional: bool = False,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        self.image_shape = tuple(int(s) for s in image_shape)
        self.num_classes, self.conditional = int(num_classes), bool(conditional)
        width = math.prod(self.image_shape)
        layers: list[nn.Module] = [nn.Flatten()]
        for dim in hidden_dims:
            layers += [nn.Linear(width, dim), nn.LeakyReLU(negative_slope)]
            width = dim
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(width, 1)
        self.embed = nn.Embedding(self.num_classes, width) if self.conditional else None
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return projection_logits(self.features(x), self.head, self.embed, labels, self.num_classes)
