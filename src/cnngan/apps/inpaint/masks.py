"""Masks for image completion: boolean tensors (N, 1, H, W), True where a pixel is MISSING.

center      a centred square of side round(center_frac * H) (28x28: 14x14, a quarter of the image)
left_half   the left half of every image (right_half, top_half, bottom_half likewise)
random      every pixel missing independently with probability random_frac
random_box  a square of side round(center_frac * H) at a random position per image
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

MASKS = ("center", "left_half", "right_half", "top_half", "bottom_half", "random", "random_box")


def _box(n: int, h: int, w: int, side: int, top: torch.Tensor, left: torch.Tensor) -> torch.Tensor:
    rows = torch.arange(h).view(1, h, 1)
    cols = torch.arange(w).view(1, 1, w)
    top, left = top.view(n, 1, 1), left.view(n, 1, 1)
    inside = (rows >= top) & (rows < top + side) & (cols >= left) & (cols < left + side)
    return inside.unsqueeze(1)


def make_masks(
    kind: str,
    n: int,
    image_shape: Sequence[int],
    center_frac: float = 0.5,
    random_frac: float = 0.8,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """n masks of one kind for images of shape (C, H, W); True = missing."""
    _, h, w = (int(s) for s in image_shape)
    side = max(1, min(h, w, round(center_frac * min(h, w))))
    if kind == "center":
        top, left = torch.full((n,), (h - side) // 2), torch.full((n,), (w - side) // 2)
        return _box(n, h, w, side, top, left)
    if kind == "random_box":
        top = torch.randint(0, h - side + 1, (n,), generator=generator)
        left = torch.randint(0, w - side + 1, (n,), generator=generator)
        return _box(n, h, w, side, top, left)
    if kind == "random":
        if not 0.0 < random_frac < 1.0:
            raise ValueError(f"random_frac={random_frac} must be in (0, 1)")
        return torch.rand(n, 1, h, w, generator=generator) < random_frac
    halves = {
        "left_half": (slice(None), slice(0, w // 2)),
        "right_half": (slice(None), slice(w // 2, None)),
        "top_half": (slice(0, h // 2), slice(None)),
        "bottom_half": (slice(h // 2, None), slice(None)),
    }
    if kind in halves:
        mask = torch.zeros(n, 1, h, w, dtype=torch.bool)
        rows, cols = halves[kind]
        mask[:, :, rows, cols] = True
        return mask
    raise ValueError(f"unknown mask {kind!r}; choose one of {', '.join(MASKS)}")


def apply_mask(images: torch.Tensor, hole: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
    """The images with their missing pixels set to `fill` (what the completion methods see)."""
    return torch.where(hole, torch.as_tensor(fill, dtype=images.dtype), images)
