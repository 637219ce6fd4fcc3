"""Image completion by GAN inversion (Yeh et al. 2017, "Semantic image inpainting with deep
generative models").

For each image, find a latent code z such that G(z) matches the image's KNOWN pixels:

    loss(z) = context(G(z), x; known) + prior_weight * mean(z^2) + d_weight * softplus(-D(G(z)))

- context: mean squared (or absolute) error over the known pixels; with `context_window` > 1
  every known pixel is weighted by the fraction of missing pixels in the window around it
  (Yeh et al.'s importance weighting: pixels next to the hole matter most for filling it).
- the prior term is the Gaussian negative log-likelihood of z (up to constants): it keeps z
  where the generator was trained, so G(z) stays a plausible image.
- the optional discriminator term asks D to find G(z) real (the paper's "perceptual loss").

All codes of a batch (images x `restarts` random starts) are optimized together with Adam; per
image, the restart with the lowest final loss on the known pixels wins (the hole itself is never
looked at). G(z) is then blended into the hole: pasted, or Poisson-blended so that its border
matches the known pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cnngan.apps.inpaint.baselines import poisson_blend
from cnngan.core.errors import require_positive

Generator = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]


@dataclass
class InversionConfig:
    steps: int = 300
    lr: float = 0.05
    restarts: int = 4
    prior_weight: float = 0.01
    d_weight: float = 0.0
    context_loss: str = "l2"  # l2 | l1
    context_window: int = 7  # 1 = all known pixels weigh the same
    blend: str = "poisson"  # poisson | paste
    batch_size: int = 128  # images per optimization batch (x restarts codes)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.context_loss not in ("l1", "l2"):
            raise ValueError(f"context_loss={self.context_loss!r}; choose l1 or l2")
        if self.blend not in ("poisson", "paste"):
            raise ValueError(f"blend={self.blend!r}; choose poisson or paste")
        require_positive("restarts", self.restarts)
        if self.steps < 0:
            raise ValueError(f"steps={self.steps} must be >= 0")


def context_weights(hole: torch.Tensor, window: int) -> torch.Tensor:
    """Weights of the known pixels (zero inside the hole), normalized to mean 1 over the known
    pixels of each image. window <= 1: uniform."""
    known = (~hole).float()
    if window > 1:
        frac_missing = F.avg_pool2d(
            hole.float(), window, stride=1, padding=window // 2, count_include_pad=False
        )
        w = known * frac_missing
        # an image whose hole touches no known pixel's window (e.g. random 1-pixel holes far
        # apart never happen, but a full hole does) falls back to uniform weights
        w = torch.where(w.sum((1, 2, 3), keepdim=True) > 0, w, known)
    else:
        w = known
    return (
        w / w.mean((1, 2, 3), keepdim=True).clamp_min(1e-12) * known.mean((1, 2, 3), keepdim=True)
    )


def _frozen(module: nn.Module) -> list[bool]:
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    return flags


def _restore(module: nn.Module, flags: list[bool]) -> None:
    for p, flag in zip(module.parameters(), flags, strict=True):
        p.requires_grad_(flag)


def invert(
    generator: nn.Module,
    images: torch.Tensor,
    hole: torch.Tensor,
    latent_dim: int,
    cfg: InversionConfig,
    labels: torch.Tensor | None = None,
    num_classes: int | None = None,
    discriminator: nn.Module | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Optimize latent codes for one batch of images in [-1, 1] with holes (True = missing).

    For a conditional generator pass `labels` (known classes) or `num_classes`: restart r then
    tries class r % num_classes, so use restarts >= num_classes to try every class.

    Returns (G(z) of the best restart (N, C, H, W), best z (N, latent_dim), known-pixel loss of
    the best restart (N,)).
    """
    n, r = images.shape[0], cfg.restarts
    device = images.device
    target = images.repeat_interleave(r, 0)
    weights = context_weights(hole, cfg.context_window).repeat_interleave(r, 0).expand_as(target)
    if labels is not None:
        labels_r = labels.to(device).long().repeat_interleave(r, 0)
    elif num_classes is not None:
        labels_r = (torch.arange(r, device=device) % num_classes).repeat(n)
    else:
        labels_r = None
    gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
    z = torch.randn(n * r, latent_dim, generator=gen).to(device).requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=cfg.lr)
    nets = [m for m in (generator, discriminator) if m is not None]
    modes = [m.training for m in nets]
    flags = [_frozen(m) for m in nets]
    for m in nets:
        m.eval()

    def context(fake: torch.Tensor) -> torch.Tensor:
        err = (fake - target).abs() if cfg.context_loss == "l1" else (fake - target) ** 2
        return (err * weights).flatten(1).sum(1) / weights.flatten(1).sum(1).clamp_min(1e-12)

    try:
        with torch.enable_grad():
            for _ in range(cfg.steps):
                fake = generator(z, labels_r)
                loss = context(fake) + cfg.prior_weight * z.pow(2).mean(1)
                if discriminator is not None and cfg.d_weight > 0:
                    loss = loss + cfg.d_weight * F.softplus(-discriminator(fake, labels_r).float())
                optimizer.zero_grad(set_to_none=True)
                loss.sum().backward()
                optimizer.step()
        with torch.no_grad():
            fake = generator(z, labels_r)
            final = context(fake).view(n, r)
    finally:
        for m, mode, flag in zip(nets, modes, flags, strict=True):
            m.train(mode)
            _restore(m, flag)
    best = final.argmin(1)
    pick = torch.arange(n, device=device) * r + best
    return fake[pick].detach(), z[pick].detach(), final[torch.arange(n, device=device), best]


def blend(
    generated: torch.Tensor, images: torch.Tensor, hole: torch.Tensor, how: str = "poisson"
) -> torch.Tensor:
    """Put the generated pixels into the hole; known pixels stay as they are."""
    if how == "poisson":
        return poisson_blend(generated, images, hole).clamp(-1, 1)
    return torch.where(hole, generated, images)


def inpaint(
    generator: nn.Module,
    images: torch.Tensor,
    hole: torch.Tensor,
    latent_dim: int,
    cfg: InversionConfig,
    labels: torch.Tensor | None = None,
    num_classes: int | None = None,
    discriminator: nn.Module | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Complete images in [-1, 1] batch by batch; returns (completed, raw G(z))."""
    completed, raw = [], []
    for start in range(0, images.shape[0], cfg.batch_size):
        sl = slice(start, start + cfg.batch_size)
        fake, _, _ = invert(
            generator,
            images[sl],
            hole[sl],
            latent_dim,
            cfg,
            labels=None if labels is None else labels[sl],
            num_classes=num_classes,
            discriminator=discriminator,
        )
        raw.append(fake)
        completed.append(blend(fake, images[sl], hole[sl], cfg.blend))
    return torch.cat(completed), torch.cat(raw)
