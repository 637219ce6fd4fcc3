"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training").

The same kind of random, differentiable augmentation is applied to real and generated images
before every discriminator call (D step and G step), so D never sees un-augmented images and the
generator still receives gradients through the augmentation. Policies, as in the paper's code
(github.com/mit-han-lab/data-efficient-gans, MIT licence), written here batch-wise with one
random draw per image:

- color: random brightness (+-0.5), saturation (x0..2) and contrast (x0.5..1.5)
- translation: shift by up to 1/8 of the image side, zero padding
- cutout: zero a square of half the image side at a random position

Images are expected in [-1, 1]; a policy is a comma-separated string ("color,translation,cutout")
or a list of names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def _rand(x: Tensor, generator: torch.Generator | None) -> Tensor:
    """One uniform [0, 1) number per image, shaped (N, 1, 1, 1)."""
    return torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype, generator=generator)


def rand_brightness(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    return x + (_rand(x, generator) - 0.5)


def rand_saturation(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_rand(x, generator) * 2) + mean


def rand_contrast(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(x, generator) + 0.5) + mean


def rand_translation(
    x: Tensor, ratio: float = 0.125, generator: torch.Generator | None = None
) -> Tensor:
    """Shift each image by its own random (dy, dx) in [-ratio*H, ratio*H] x [-ratio*W, ratio*W]."""
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    if sy == 0 and sx == 0:
        return x
    dev = x.device
    dy = torch.randint(-sy, sy + 1, (n, 1, 1), device=dev, generator=generator)
    dx = torch.randint(-sx, sx + 1, (n, 1, 1), device=dev, generator=generator)
    padded = F.pad(x, (sx, sx, sy, sy))
    rows = torch.arange(h, device=dev)[None, :, None] + sy - dy  # (n, h, 1)
    cols = torch.arange(w, device=dev)[None, None, :] + sx - dx  # (n, 1, w)
    batch = torch.arange(n, device=dev)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def rand_cutout(x: Tensor, ratio: float = 0.5, generator: torch.Generator | None = None) -> Tensor:
    """Zero a (ratio*H) x (ratio*W) box centred at a random pixel of each image (clipped at borders)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dev = x.device
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=dev, generator=generator)
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=dev, generator=generator)
    r = torch.arange(h, device=dev)[None, :, None]
    c = torch.arange(w, device=dev)[None, None, :]
    top, left = cy - ch // 2, cx - cw // 2
    inside = (r >= top) & (r < top + ch) & (c >= left) & (c < left + cw)  # (n, h, w)
    return x * (~inside).unsqueeze(1).to(x.dtype)


POLICIES: dict[str, list[Callable[..., Tensor]]] = {
    "color": [rand_brightness, rand_saturation, rand_contrast],
    "translation": [rand_translation],
    "cutout": [rand_cutout],
}


def parse_policy(policy: str | Sequence[str] | None) -> list[str]:
    """'color, translation' or ['color', 'translation'] -> ['color', 'translation']; None, '' -> []."""
    parts = (policy or "").split(",") if isinstance(policy, str | None) else list(policy)
    names = [p.strip() for p in parts if p.strip()]
    unknown = [p for p in names if p not in POLICIES]
    if unknown:
        raise ValueError(f"unknown DiffAugment policy {unknown}; choose from {sorted(POLICIES)}")
    return names


class DiffAugment:
    """Callable applying a policy to a batch; the identity when the policy is empty."""

    def __init__(self, policy: str | Sequence[str] | None = None) -> None:
        self.names = parse_policy(policy)
        self.policy = ",".join(self.names)

    def __bool__(self) -> bool:
        return bool(self.names)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        for name in self.names:
            for fn in POLICIES[name]:
                x = fn(x, generator=generator)
        return x

    def __repr__(self) -> str:
        return f"DiffAugment({self.policy!r})"
