"""Completion baselines that use only the known pixels of each image.

All take images (N, C, H, W) as floats and a hole mask (N, 1, H, W), True = missing, and return
completed images; known pixels are returned unchanged.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def mean_fill(images: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Fill the hole with the mean of the image's known pixels (per channel)."""
    known = (~hole).to(images.dtype)
    mean = (images * known).sum((2, 3), keepdim=True) / known.sum((2, 3), keepdim=True).clamp_min(1)
    return torch.where(hole, mean, images)


def nearest_fill(images: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Fill every missing pixel with the value of the nearest known pixel (Euclidean distance)."""
    from scipy.ndimage import distance_transform_edt

    out = images.clone()
    for i in range(images.shape[0]):
        missing = hole[i, 0].cpu().numpy()
        if not missing.any() or missing.all():
            continue
        _, (rows, cols) = distance_transform_edt(missing, return_indices=True)
        src = torch.from_numpy(np.stack([rows, cols])).to(images.device)
        out[i] = images[i][:, src[0], src[1]]
    return out


def diffusion_fill(
    images: torch.Tensor, hole: torch.Tensor, iterations: int = 2000, tol: float = 1e-5
) -> torch.Tensor:
    """Harmonic (Laplace) fill: the hole's values solve the discrete Laplace equation with the
    known pixels as boundary condition, i.e. heat diffused in from the border of the hole.
    Jacobi iterations from the mean fill until the largest change is below `tol`."""
    x = mean_fill(images, hole)
    kernel = torch.tensor(
        [[0.0, 0.25, 0.0], [0.25, 0.0, 0.25], [0.0, 0.25, 0.0]], dtype=x.dtype, device=x.device
    )
    c = x.shape[1]
    kernel = kernel.view(1, 1, 3, 3).repeat(c, 1, 1, 1)
    hole_c = hole.expand_as(x)
    for _ in range(iterations):
        avg = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=c)
        new = torch.where(hole_c, avg, images)
        change = (new - x).abs().max()
        x = new
        if change < tol:
            break
    return x


def poisson_blend(
    generated: torch.Tensor, images: torch.Tensor, hole: torch.Tensor
) -> torch.Tensor:
    """Seamless cloning (Perez et al. 2003) of `generated` into the hole: keep its gradients
    inside the hole and match the known pixels at the border. Equals `generated` plus the
    harmonic fill of the residual (images - generated) from the known pixels."""
    residual = diffusion_fill(images - generated, hole)
    return torch.where(hole, generated + residual, images)


BASELINES = {"mean": mean_fill, "nearest": nearest_fill, "diffusion": diffusion_fill}
