"""The GAN metric suite: FID, KID and IS through torchmetrics with the evaluator as their feature
network, plus precision/recall, density/coverage and mode coverage on the same features, and
per-class FID, precision and recall when the images come with their classes (conditional GANs).

    suite = GanMetrics(load_evaluator("fashion_mnist"))
    for batch in real_batches: suite.update(batch, real=True)     # floats in [0, 1] or uint8
    for batch in fake_batches: suite.update(batch, real=False)
    scores = suite.compute()        # {"fid": ..., "kid_mean": ..., "precision": ..., ...}
    # with labels on both sides (suite.update(batch, real=..., labels=y)), also
    # {"fid_class/0": ..., "recall_class/0": ..., ..., "recall_class_min": ...}

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
from cnngan.metrics.per_class import SUMMARIES, label_accuracy, per_class_scores

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
# the worst class of each per-class score (conditional GANs): fid_class_max, ...
PER_CLASS_SUMMARY_KEYS = tuple(key for key, _ in SUMMARIES.values())
# with an evaluator of the dataset's classes: how often it reads a sample's drawn class
LABEL_ACCURACY_KEYS = ("label_acc", "label_acc_real", "label_acc_class_min")


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
        per_class: when every real and generated image came with its label, also score FID,
            precision and recall per class (`cnngan.metrics.per_class`; at most knn_max_samples
            images per class and side).
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
        per_class: bool = True,
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
        self.per_class = bool(per_class)
        # each side's labels, batch by batch as its features; None once a batch came without
        self.labels: dict[bool, list[torch.Tensor] | None] = {True: [], False: []}
        # each side's classes as the evaluator reads them (when its logits are the dataset's)
        self.predicted: dict[bool, list[torch.Tensor]] = {True: [], False: []}

    @torch.no_grad()
    def update(self, images: torch.Tensor, real: bool, labels: torch.Tensor | None = None) -> None:
        """Add a batch of real or generated images; `labels` (N,), their classes, enable the
        per-class scores (which need them for every image on both sides)."""
        self.fid.update(images, real=real)
        self.kid.update(images, real=real)
        if not real:
            self.inception_score.update(images)
        known = self.labels[real]
        if known is not None and labels is not None:
            if len(labels) != len(images):
                raise ValueError(f"{len(labels)} labels for {len(images)} images")
            known.append(labels.detach().long().cpu())
            if self.reads_labels:
                # the same tensor FID just scored: the feature net's cached pass, no new one
                self.predicted[real].append(self.feature_net.logits(images).argmax(1).cpu())
        else:
            self.labels[real] = None

    def reset_fake(self) -> None:
        """Forget the generated images, keep the real reference statistics."""
        for metric in (self.fid, self.kid, self.inception_score):
            metric.reset()
        self.labels[False], self.predicted[False] = [], []

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
            # per-class FID/precision/recall: each class's samples against its reference images
            "per_class": self.scores_per_class,
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
            real_all = dim_zero_cat(self.kid.real_features)
            fake_all = dim_zero_cat(self.kid.fake_features)
            real = _subsample(real_all, self.knn_max_samples)
            fake = _subsample(fake_all, self.knn_max_samples)
            if self.scores_per_class:
                scores.update(self._per_class(real_all, fake_all))
                scores.update(self._label_accuracy())
        scores.update(knn_metrics(real, fake, pr_k=self.pr_k, dc_k=self.dc_k))
        probs = dim_zero_cat(self.inception_score.features).softmax(dim=1)
        scores.update(mode_coverage(probs, self.mode_min_fraction))
        if hasattr(self.feature_net, "forget"):
            self.feature_net.forget()
        return scores

    @property
    def scores_per_class(self) -> bool:
        """Whether compute() adds per-class scores: asked for, and labels came with every image."""
        return self.per_class and all(
            labels is not None and len(labels) > 0 for labels in self.labels.values()
        )

    def _per_class(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, float | None]:
        """Per-class FID/precision/recall, each class capped at knn_max_samples per side."""
        sides = []
        for features, labels in ((real, self.labels[True]), (fake, self.labels[False])):
            labels = torch.cat(labels)  # type: ignore[arg-type]  # scores_per_class checked it
            index = _per_class_subset(labels, self.knn_max_samples)
            sides += [features.cpu()[index], labels[index]]
        return per_class_scores(*sides, pr_k=self.pr_k)

    @property
    def reads_labels(self) -> bool:
        """Whether the feature net's logits are the dataset's classes (label accuracy)."""
        return bool(getattr(self.feature_net, "reads_dataset_classes", False))

    def _label_accuracy(self) -> dict[str, float | None]:
        """`label_accuracy` where the feature net reads the dataset's classes (else nothing); called
        with labels on both sides (`scores_per_class`), so every labelled image has a prediction."""
        if not self.reads_labels:
            return {}
        (real, real_pred), (fake, fake_pred) = (
            (torch.cat(self.labels[side]), torch.cat(self.predicted[side]))  # type: ignore[arg-type]
            for side in (True, False)
        )
        return label_accuracy(real_pred, real, fake_pred, fake)


def _subsample(x: torch.Tensor, n: int | None) -> torch.Tensor:
    if n is None or len(x) <= n:
        return x
    return x[torch.randperm(len(x))[:n]]


def _per_class_subset(labels: torch.Tensor, n: int | None) -> torch.Tensor:
    """Indices of at most n random rows of every class (all of them when n is None)."""
    keep = []
    for label in torch.unique(labels):
        rows = torch.nonzero(labels == label).flatten()
        keep.append(rows if n is None or len(rows) <= n else rows[torch.randperm(len(rows))[:n]])
    return torch.cat(keep).sort().values


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
    real_labels: torch.Tensor | None = None,
    fake_labels: torch.Tensor | None = None,
) -> dict[str, Any]:
    """Feed real images (uint8 or [0, 1]) and generated ones (a tensor, or a function
    n -> n images in [0, 1]) batch by batch, then compute the suite.

    Per-class scores need the labels of both sides: `real_labels`, and `fake_labels` for a tensor
    of generated images or, for a sampling function, its `labeled(n) -> (images, labels)` (a
    `cnngan.metrics.samples.GanSampler` of a conditional GAN has one).
    """
    for start in range(0, len(real), batch_size):
        labels = None if real_labels is None else real_labels[start : start + batch_size]
        suite.update(real[start : start + batch_size].to(device), real=True, labels=labels)
    if callable(fake):
        if num_fake is None:
            raise ValueError("num_fake is required when fake is a sampling function")
        labeled = getattr(fake, "labeled", None) if real_labels is not None else None
        for start in range(0, num_fake, batch_size):
            n = min(batch_size, num_fake - start)
            images, labels = labeled(n) if labeled else (fake(n), None)
            suite.update(images.to(device), real=False, labels=labels)
    else:
        for start in range(0, len(fake), batch_size):
            labels = None if fake_labels is None else fake_labels[start : start + batch_size]
            suite.update(fake[start : start + batch_size].to(device), real=False, labels=labels)
    return suite.compute()
