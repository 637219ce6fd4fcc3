"""PSNR and SSIM restricted to the completed region (the hole) of each image.

Images are floats in [0, data_range], shape (N, C, H, W); the hole is (N, 1, H, W), True where
pixels were missing. Both return one value per image (numpy float64 arrays).

- PSNR: 10 log10(data_range^2 / MSE), the MSE taken over the hole's pixels (all channels).
- SSIM (Wang et al. 2004): the SSIM map with a Gaussian window (sigma 1.5, truncated at 3.5
  sigma, i.e. 11x11), K1 = 0.01, K2 = 0.03, population covariances and reflect padding (the same
  map as `skimage.metrics.structural_similarity(gaussian_weights=True,
  use_sample_covariance=False, full=True)`), averaged over the hole's pixels. Windows near the
  border of the hole overlap known pixels, which are identical in both images, so SSIM on the
  hole is higher than SSIM of the hole cut out alone; compare methods on the same masks only.
"""

from __future__ import annotations

import numpy as np
import torch

K1, K2 = 0.01, 0.03


def _np(x: torch.Tensor | np.ndarray) -> np.ndarray:
    return (
        x.detach().cpu().double().numpy()
        if isinstance(x, torch.Tensor)
        else np.asarray(x, dtype=np.float64)
    )


def masked_psnr(
    pred: torch.Tensor | np.ndarray,
    target: torch.Tensor | np.ndarray,
    hole: torch.Tensor | np.ndarray,
    data_range: float = 1.0,
) -> np.ndarray:
    pred, target = _np(pred), _np(target)
    weight = np.broadcast_to(_np(hole), pred.shape)
    mse = ((pred - target) ** 2 * weight).sum((1, 2, 3)) / np.maximum(weight.sum((1, 2, 3)), 1)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range**2 / mse)


def ssim_map(
    pred: torch.Tensor | np.ndarray,
    target: torch.Tensor | np.ndarray,
    data_range: float = 1.0,
    sigma: float = 1.5,
    truncate: float = 3.5,
) -> np.ndarray:
    """Per-pixel SSIM of each image pair, shape (N, C, H, W)."""
    from scipy.ndimage import gaussian_filter

    x, y = _np(pred), _np(target)

    def blur(a: np.ndarray) -> np.ndarray:
        return gaussian_filter(a, sigma=(0, 0, sigma, sigma), truncate=truncate, mode="reflect")

    ux, uy = blur(x), blur(y)
    vx, vy, vxy = blur(x * x) - ux * ux, blur(y * y) - uy * uy, blur(x * y) - ux * uy
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    return ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))


def masked_ssim(
    pred: torch.Tensor | np.ndarray,
    target: torch.Tensor | np.ndarray,
    hole: torch.Tensor | np.ndarray,
    data_range: float = 1.0,
) -> np.ndarray:
    smap = ssim_map(pred, target, data_range)
    weight = np.broadcast_to(_np(hole), smap.shape)
    return (smap * weight).sum((1, 2, 3)) / np.maximum(weight.sum((1, 2, 3)), 1)
