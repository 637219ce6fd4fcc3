"""GAN losses on raw discriminator outputs (logits / critic scores), each a pair of small functions.

Every loss is a mean over the batch. For the sigmoid losses D(x) = sigmoid(logit), and
-log D(x) = softplus(-logit), -log(1 - D(x)) = softplus(logit), which is how they are computed
(numerically stable for any logit).

| name           | discriminator minimizes                      | generator minimizes        |
|----------------|----------------------------------------------|----------------------------|
| minimax        | -log D(x) - log(1 - D(G(z)))                 | log(1 - D(G(z)))           |
| non_saturating | -log D(x) - log(1 - D(G(z)))                 | -log D(G(z))               |
| hinge          | relu(1 - D(x)) + relu(1 + D(G(z)))           | -D(G(z))                   |
| wasserstein    | D(G(z)) - D(x)   (add a gradient penalty)    | -D(G(z))                   |
| lsgan          | ((D(x) - 1)^2 + D(G(z))^2) / 2               | (D(G(z)) - 1)^2 / 2        |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def bce_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """-log D(x) - log(1 - D(G(z))) (shared by minimax and non-saturating)."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def minimax_g_loss(fake: Tensor) -> Tensor:
    """log(1 - D(G(z))): the original objective; its gradient vanishes when D wins."""
    return -F.softplus(fake).mean()


def non_saturating_g_loss(fake: Tensor) -> Tensor:
    """-log D(G(z)): same fixed point as minimax, strong gradients early in training."""
    return F.softplus(-fake).mean()


def hinge_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def critic_g_loss(fake: Tensor) -> Tensor:
    """-D(G(z)): the generator loss of hinge and Wasserstein GANs."""
    return -fake.mean()


def wasserstein_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    return fake.mean() - real.mean()


def lsgan_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    return 0.5 * ((real - 1.0).pow(2).mean() + fake.pow(2).mean())


def lsgan_g_loss(fake: Tensor) -> Tensor:
    return 0.5 * (fake - 1.0).pow(2).mean()


def identity(x: Tensor) -> Tensor:
    return x


@dataclass(frozen=True)
class GANLoss:
    """A discriminator loss, a generator loss, and how to read D's output as a score for logging
    (`score`: sigmoid probability D(x) for the sigmoid losses, the raw output otherwise)."""

    name: str
    discriminator: Callable[[Tensor, Tensor], Tensor]
    generator: Callable[[Tensor], Tensor]
    score: Callable[[Tensor], Tensor] = identity

    def scores(self, real: Tensor, fake: Tensor) -> dict[str, Tensor]:
        """Mean scores of D's outputs on real and fake images, detached, for logging."""
        return {
            "d_real": self.score(real.detach()).mean(),
            "d_fake": self.score(fake.detach()).mean(),
        }

    def evaluate(self, real: Tensor, fake: Tensor) -> dict[str, Tensor]:
        """Both losses and the scores of D's outputs on held-out real images and on fakes."""
        return {
            "d_loss": self.discriminator(real, fake),
            "g_loss": self.generator(fake),
            **self.scores(real, fake),
        }


LOSSES: dict[str, GANLoss] = {
    "minimax": GANLoss("minimax", bce_d_loss, minimax_g_loss, torch.sigmoid),
    "non_saturating": GANLoss("non_saturating", bce_d_loss, non_saturating_g_loss, torch.sigmoid),
    "hinge": GANLoss("hinge", hinge_d_loss, critic_g_loss),
    "wasserstein": GANLoss("wasserstein", wasserstein_d_loss, critic_g_loss),
    "lsgan": GANLoss("lsgan", lsgan_d_loss, lsgan_g_loss),
}


def get_loss(name: str) -> GANLoss:
    if name not in LOSSES:
        raise ValueError(f"unknown GAN loss {name!r}; choose one of {sorted(LOSSES)}")
    return LOSSES[name]
