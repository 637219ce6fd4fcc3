"""Metrics on precomputed features or class probabilities (pure torch, no Lightning).

FID, KID and IS are computed through torchmetrics in `suite.py`; the functions here are the
k-NN based metrics torchmetrics lacks, plus mode coverage:

- precision / recall of generative models (Kynkaenniemi et al. 2019, k = 3): the fraction of
  generated samples inside the k-NN manifold of the real ones (precision), and of real samples
  inside the manifold of the generated ones (recall);
- density / coverage (Naeem et al. 2020, k = 5): how many real k-NN balls contain each generated
  sample on average (density, ~1 for matching distributions, unbounded), and the fraction of
  real balls that contain at least one generated sample (coverage);
- mode coverage: how many classes the evaluator predicts among the samples and the KL divergence
  of the predicted-class histogram from uniform.
"""

from __future__ import annotations

import math

import torch


def _as_float(x: torch.Tensor) -> torch.Tensor:
    return x.detach().to(torch.float64 if x.dtype == torch.float64 else torch.float32).cpu()


def pairwise_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distances (len(a), len(b)), computed in float64 for exact k-NN comparisons."""
    return torch.cdist(a.double(), b.double())


def kth_nearest_distance(x: torch.Tensor, k: int, chunk: int = 2048) -> torch.Tensor:
    """Distance from every row of x to its k-th nearest other row (itself excluded)."""
    if not 1 <= k < len(x):
        raise ValueError(f"k={k} needs at least k + 1 = {k + 1} samples, got {len(x)}")
    x = _as_float(x)
    out = []
    for start in range(0, len(x), chunk):
        d = pairwise_distances(x[start : start + chunk], x)
        # the k+1 smallest include the distance 0 to itself
        out.append(d.kthvalue(k + 1, dim=1).values)
    return torch.cat(out)


def knn_metrics(
    real: torch.Tensor, fake: torch.Tensor, pr_k: int = 3, dc_k: int = 5, chunk: int = 1024
) -> dict[str, float]:
    """Precision, recall, density and coverage from three distance matrices (real-real,
    fake-fake, fake-real), each computed in row chunks so memory stays O(chunk * N)."""
    real, fake = _as_float(real), _as_float(fake)
    real_pr = kth_nearest_distance(real, pr_k, chunk)
    real_dc = real_pr if dc_k == pr_k else kth_nearest_distance(real, dc_k, chunk)
    fake_pr = kth_nearest_distance(fake, pr_k, chunk)
    in_real_manifold = torch.zeros(len(fake), dtype=torch.bool)
    real_in_fake_manifold = torch.zeros(len(real), dtype=torch.bool)
    covered = torch.zeros(len(real), dtype=torch.bool)
    density_sum = 0
    for start in range(0, len(fake), chunk):
        d = pairwise_distances(fake[start : start + chunk], real)  # (c, N_real)
        in_real_manifold[start : start + chunk] = (d <= real_pr[None, :]).any(dim=1)
        real_in_fake_manifold |= (d <= fake_pr[start : start + chunk, None]).any(dim=0)
        inside_dc = d <= real_dc[None, :]
        density_sum += int(inside_dc.sum())
        covered |= inside_dc.any(dim=0)
    return {
        "precision": in_real_manifold.double().mean().item(),
        "recall": real_in_fake_manifold.double().mean().item(),
        "density": density_sum / (dc_k * len(fake)),
        "coverage": covered.double().mean().item(),
    }


def mode_coverage(probs: torch.Tensor, min_fraction: float = 0.1) -> dict[str, float | list[int]]:
    """Classes found among the samples, from their predicted-class histogram.

    A class counts as covered when it receives at least `min_fraction` of its fair share
    (N / num_classes) of the predictions: a rare misclassification does not count as a mode.
    `mode_kl` is KL(histogram || uniform) = log(K) - entropy, 0 for perfectly balanced classes
    and log(K) when every sample falls into one class.
    """
    n, num_classes = probs.shape
    counts = torch.bincount(probs.argmax(dim=1).cpu(), minlength=num_classes)
    hist = counts.double() / n
    threshold = min_fraction * n / num_classes
    nonzero = hist[hist > 0]
    kl = math.log(num_classes) + float((nonzero * nonzero.log()).sum())
    return {
        "modes_covered": int((counts >= threshold).sum()),
        "mode_kl": max(kl, 0.0),
        "mode_counts": [int(c) for c in counts],
    }


def fid_from_features(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (eigenvalue form).

    ||mu_r - mu_f||^2 + tr(S_r) + tr(S_f) - 2 tr((S_r S_f)^(1/2)); the trace of the matrix square
    root is the sum of square roots of the eigenvalues of S_r S_f (real and >= 0 up to rounding).
    """
    real, fake = real.double().cpu(), fake.double().cpu()
    mu_r, mu_f = real.mean(0), fake.mean(0)
    cov_r, cov_f = torch.cov(real.T), torch.cov(fake.T)
    eig = torch.linalg.eigvals(cov_r @ cov_f).real.clamp(min=0)
    return float(
        (mu_r - mu_f).square().sum() + cov_r.trace() + cov_f.trace() - 2 * eig.sqrt().sum()
    )
