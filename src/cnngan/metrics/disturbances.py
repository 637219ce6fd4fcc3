"""The image disturbances of the FID paper (Heusel et al. 2017, section 4 / appendix): a feature
space fit for GAN evaluation must see them, and FID must grow with their strength.

Every function takes floats in [0, 1] of shape (N, C, H, W), a strength, and an optional
torch.Generator; it returns new floats in [0, 1]. Strength 0 returns the images unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def gaussian_noise(
    x: torch.Tensor, alpha: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """(1 - alpha) * X + alpha * N with N Gaussian noise scaled to the pixel range [0, 1]
    (mean 0.5, std 0.25, clipped), as in the paper."""
    noise = (torch.randn(x.shape, generator=generator) * 0.25 + 0.5).clamp(0, 1)
    return ((1 - alpha) * x + alpha * noise.to(x.device)).clamp(0, 1)


def gaussian_blur(
    x: torch.Tensor, sigma: float, generator: torch.Generator | None = None
) -> torch.Tensor:  # noqa: ARG001
    """Convolution with a Gaussian kernel of standard deviation sigma (pixels), reflect padding."""
    if sigma <= 0:
        return x.clone()
    radius = min(int(3 * sigma + 0.5), min(x.shape[-2:]) - 1)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32, device=x.device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    c = x.shape[1]
    padded = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    out = F.conv2d(padded, kernel.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    out = F.conv2d(out, kernel.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
    return out.clamp(0, 1)


def salt_and_pepper(
    x: torch.Tensor, alpha: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A fraction alpha of the pixels set to black or white (each with probability 1/2); all
    channels of a pixel together."""
    n, _, h, w = x.shape
    hit = torch.rand((n, 1, h, w), generator=generator) < alpha
    white = torch.rand((n, 1, h, w), generator=generator) < 0.5
    hit, white = hit.to(x.device), white.to(x.device)
    return torch.where(hit, white.to(x.dtype).expand_as(x), x)


def black_rectangles(
    x: torch.Tensor, alpha: float, generator: torch.Generator | None = None, count: int = 5
) -> torch.Tensor:
    """`count` black rectangles at random positions in every image; each side is alpha times the
    image side (a random aspect: width and height drawn in [alpha/2, alpha] * side)."""
    if alpha <= 0:
        return x.clone()
    n, _, h, w = x.shape
    size = torch.rand((n, count, 2), generator=generator) * 0.5 + 0.5  # in [0.5, 1)
    rect_h = (size[..., 0] * alpha * h).round().clamp(min=1)
    rect_w = (size[..., 1] * alpha * w).round().clamp(min=1)
    top = (torch.rand((n, count), generator=generator) * (h - rect_h + 1)).floor()
    left = (torch.rand((n, count), generator=generator) * (w - rect_w + 1)).floor()
    rows = torch.arange(h).view(1, 1, h, 1)
    cols = torch.arange(w).view(1, 1, 1, w)
    inside = (
        (rows >= top[..., None, None])
        & (rows < (top + rect_h)[..., None, None])
        & (cols >= left[..., None, None])
        & (cols < (left + rect_w)[..., None, None])
    ).any(dim=1, keepdim=True)  # (n, 1, h, w)
    return x.masked_fill(inside.to(x.device), 0.0)


DISTURBANCES: dict[str, Callable[..., torch.Tensor]] = {
    "gaussian_noise": gaussian_noise,
    "gaussian_blur": gaussian_blur,
    "salt_and_pepper": salt_and_pepper,
    "black_rectangles": black_rectangles,
}

# strengths per disturbance (0 = undisturbed), after the FID paper's levels, with a finer start
LEVELS: dict[str, list[float]] = {
    "gaussian_noise": [0.0, 0.1, 0.25, 0.5, 0.75],
    "gaussian_blur": [0.0, 0.5, 1.0, 2.0, 4.0],
    "salt_and_pepper": [0.0, 0.05, 0.1, 0.2, 0.3],
    "black_rectangles": [0.0, 0.1, 0.25, 0.5, 0.75],
}


def disturb(x: torch.Tensor, name: str, strength: float, seed: int = 0) -> torch.Tensor:
    """Apply a named disturbance with a fixed seed (reproducible across calls)."""
    if name not in DISTURBANCES:
        raise ValueError(f"unknown disturbance {name!r}; choose from {sorted(DISTURBANCES)}")
    generator = torch.Generator().manual_seed(seed)
    if strength == 0:
        return x.clone()
    return DISTURBANCES[name](x, strength, generator=generator)
