"""The GAN metric suite: FID, KID and IS through torchmetrics with the evaluator as their feature
network, plus precision/recall, density/coverage and mode coverage on the same features.

    suite = GanMetrics(load_evaluator("fashion_mnist"))
    for batch in real_batches: suite.update(batch, real=True)     # floats in [0, 1] or uint8
    for batch in fake_batches: suite.update(batch, real=False)
    scores = suite.compute()        # {"fid": ..., "kid_mean": ..., "precision": ..., ...}

Every score is only comparable to another one with the same protocol (`suite.protocol()`:
evaluator sha256, feature layers, sample counts; the caller adds the reference split).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.inception import InceptionScore
from torchmetrics.image.kid import KernelInceptionDistance
from torchmetrics.utilities.data import dim_zero_cat

from cnngan.metrics.functional import knn_metrics, mode_coverage

# the metrics.json keys of the suite, in table order
SCORE_KEYS = (
    "fid",
    "kid_mean",
    "kid_std",
    "is_mean",
    "is_std",
    "precision",
    "recall",
    "density",
    "coverage",
    "modes_covered",
    "mode_kl",
)


class GanMetrics(nn.Module):
    """Accumulates real and generated images; `compute()` returns every score of the suite.

    Args:
        feature_net: maps images to features and has `num_features` and `logits_module()`
            (an `Evaluator`, or `InceptionFeatures` for the Inception protocol).
        kid_subsets, kid_subset_size: KID is averaged over random subsets of this size
            (capped at the smaller sample count).
        is_splits: the Inception Score's splits (mean and std over them).
        pr_k, dc_k: k of the k-NN manifolds of precision/recall and density/coverage.
        knn_max_samples: precision/recall/density/coverage use at most this many samples per
            side (their cost is quadratic); None uses all.
        mode_min_fraction: a class is a covered mode when it gets this fraction of its fair share.
        seed: seeds the random subsets of KID, IS and the k-NN subsample.
    """

    def __init__(
        self,
        feature_net: nn.Module,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        is_splits: int = 10,
        pr_k: int = 3,
        dc_k: int = 5,
        knn_max_samples: int | None = 10000,
        mode_min_fraction: float = 0.1,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.feature_net = feature_net
        self.kid_subset_size = int(kid_subset_size)
        self.fid = FrechetInceptionDistance(feature=feature_net, reset_real_features=False)
        self.kid = KernelInceptionDistance(
            feature=feature_net,
            subsets=kid_subsets,
            subset_size=kid_subset_size,
            reset_real_features=False,
        )
        self.inception_score = InceptionScore(feature=feature_net.logits_module(), splits=is_splits)
        self.pr_k, self.dc_k = int(pr_k), int(dc_k)
        self.knn_max_samples = knn_max_samples
        self.mode_min_fraction = float(mode_min_fraction)
        self.seed = int(seed)

    @torch.no_grad()
    def update(self, images: torch.Tensor, real: bool) -> None:
        self.fid.update(images, real=real)
        self.kid.update(images, real=real)
        if not real:
            self.inception_score.update(images)

    def reset_fake(self) -> None:
        """Forget the generated images, keep the real reference statistics."""
        for metric in (self.fid, self.kid, self.inception_score):
            metric.reset()

    @property
    def num_real(self) -> int:
        return int(self.fid.real_features_num_samples)

    @property
    def num_fake(self) -> int:
        return int(self.fid.fake_features_num_samples)

    def protocol(self) -> dict[str, Any]:
        net = self.feature_net
        meta = getattr(net, "meta", {})
        return {
            "feature_net": meta.get("name", type(net).__name__),
            "evaluator_sha256": meta.get("sha256"),
            "feature_layers": meta.get("layers"),
            "num_features": int(net.num_features),
            "n_real": self.num_real,
            "n_fake": self.num_fake,
            "kid_subset_size": min(self.kid_subset_size, self.num_real, self.num_fake),
            "pr_k": self.pr_k,
            "dc_k": self.dc_k,
        }

    @torch.no_grad()
    def compute(self) -> dict[str, Any]:
        """All scores as plain Python numbers (plus `mode_counts`, a list)."""
        n_real, n_fake = self.num_real, self.num_fake
        if min(n_real, n_fake) < 2:
            raise RuntimeError(
                f"need at least 2 real and 2 generated images, got {n_real} and {n_fake}"
            )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            scores: dict[str, Any] = {"fid": float(self.fid.compute())}
            self.kid.subset_size = min(self.kid_subset_size, n_real, n_fake)
            kid_mean, kid_std = self.kid.compute()
            scores.update(kid_mean=float(kid_mean), kid_std=float(kid_std))
            is_mean, is_std = self.inception_score.compute()
            scores.update(is_mean=float(is_mean), is_std=float(is_std))
            real = _subsample(dim_zero_cat(self.kid.real_features), self.knn_max_samples)
            fake = _subsample(dim_zero_cat(self.kid.fake_features), self.knn_max_samples)
        scores.update(knn_metrics(real, fake, pr_k=self.pr_k, dc_k=self.dc_k))
        probs = dim_zero_cat(self.inception_score.features).softmax(dim=1)
        scores.update(mode_coverage(probs, self.mode_min_fraction))
        if hasattr(self.feature_net, "forget"):
            self.feature_net.forget()
        return scores


def _subsample(x: torch.Tensor, n: int | None) -> torch.Tensor:
    if n is None or len(x) <= n:
        return x
    return x[torch.randperm(len(x))[:n]]


def batches(images: torch.Tensor, batch_size: int) -> Iterator[torch.Tensor]:
    for start in range(0, len(images), batch_size):
        yield images[start : start + batch_size]


def score_images(
    suite: GanMetrics,
    real: torch.Tensor,
    fake: torch.Tensor | Callable[[int], torch.Tensor],
    num_fake: int | None = None,
    batch_size: int = 500,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Feed real images (uint8 or [0, 1]) and generated ones (a tensor, or a function
    n -> n images in [0, 1]) batch by batch, then compute the suite."""
    for batch in batches(real, batch_size):
        suite.update(batch.to(device), real=True)
    if callable(fake):
        if num_fake is None:
            raise ValueError("num_fake is required when fake is a sampling function")
        for start in range(0, num_fake, batch_size):
            suite.update(fake(min(batch_size, num_fake - start)).to(device), real=False)
    else:
        for batch in batches(fake, batch_size):
            suite.update(batch.to(device), real=False)
    return suite.compute()
