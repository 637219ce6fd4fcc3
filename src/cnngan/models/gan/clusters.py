"""Self-conditioning (Liu et al. 2020, "Diverse Image Generation via Self-Conditioned GANs"):
an unconditional GAN whose G and D are conditioned on the k-means cluster of each training image
instead of a class label. No labels are used; the clusters split the data into modes, and a
G that must produce every cluster's images cannot drop one of them.

`ClusterLabels` holds the centroids (fitted once, on the training images, when the fit starts)
and the cluster sizes as buffers, so checkpoints carry them: a resumed fit and a loaded sampler
use the same clusters. Reals get the cluster of their nearest centroid; G's samples draw clusters
in proportion to their sizes, so the generated distribution weighs the modes as the data does.
Here k-means runs on the pixels (in the range the GAN sees): for small grayscale images such as
Fashion-MNIST the nearest centroid in pixels already separates shapes (the paper clusters D's
features and reclusters during training; that is left to do).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

# k-means (Lloyd) stops after this many passes if assignments still change
MAX_PASSES = 50


def squared_distances(x: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """(N, K) squared Euclidean distances of rows of x (N, D) to centroids (K, D), float32."""
    x, centroids = x.float(), centroids.float()
    return (
        x.pow(2).sum(1, keepdim=True) - 2 * x @ centroids.T + centroids.pow(2).sum(1)[None, :]
    ).clamp_min_(0)


def kmeans_plus_plus(x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """k initial centroids (Arthur & Vassilvitskii 2007): each next one drawn with probability
    proportional to its squared distance from the nearest one chosen so far."""
    first = torch.randint(len(x), (1,), generator=generator)
    centroids = x[first]
    nearest = squared_distances(x, centroids)[:, 0]
    for _ in range(1, k):
        pick = torch.multinomial(nearest + 1e-12, 1, generator=generator)
        centroids = torch.cat([centroids, x[pick]])
        nearest = torch.minimum(nearest, squared_distances(x, x[pick])[:, 0])
    return centroids


def kmeans(x: torch.Tensor, k: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(centroids (k, D), assignments (N,)) of k-means on the rows of x (N, D): k-means++ start,
    then Lloyd passes until no assignment changes. An emptied cluster keeps its centroid."""
    if not 1 <= k <= len(x):
        raise ValueError(f"k-means with {k} clusters needs between 1 and {len(x)} (the images)")
    x = x.float()
    centroids = kmeans_plus_plus(x, k, torch.Generator().manual_seed(seed))
    assignment = squared_distances(x, centroids).argmin(1)
    for _ in range(MAX_PASSES):
        sums = torch.zeros_like(centroids).index_add_(0, assignment, x)
        counts = torch.bincount(assignment, minlength=k)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled, None]
        new = squared_distances(x, centroids).argmin(1)
        if torch.equal(new, assignment):
            break
        assignment = new
    return centroids, assignment


class ClusterLabels(nn.Module):
    """The clusters of a self-conditioned GAN: `fit` once, then `assign` reals and `draw` labels
    for G's samples."""

    def __init__(self, num_clusters: int, image_shape: list[int] | tuple[int, ...]) -> None:
        super().__init__()
        self.num_clusters = int(num_clusters)
        pixels = math.prod(int(s) for s in image_shape)
        self.register_buffer("centroids", torch.zeros(self.num_clusters, pixels))
        self.register_buffer("sizes", torch.zeros(self.num_clusters))

    @property
    def fitted(self) -> bool:
        return bool(self.sizes.sum() > 0)

    def fit(self, images: torch.Tensor, seed: int = 0) -> None:
        """k-means on images (N, C, H, W) in the range the GAN sees ([-1, 1])."""
        centroids, assignment = kmeans(images.flatten(1), self.num_clusters, seed)
        self.centroids.copy_(centroids)
        self.sizes.copy_(torch.bincount(assignment, minlength=self.num_clusters).float())

    @torch.no_grad()
    def assign(self, images: torch.Tensor) -> torch.Tensor:
        """The cluster (N,) of each image (N, C, H, W): its nearest centroid, in float32."""
        self._require_fitted()
        with torch.autocast(images.device.type, enabled=False):
            return squared_distances(images.flatten(1), self.centroids).argmin(1)

    @torch.no_grad()
    def assign_known(self, images: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        """The cluster (N,) of each image judged on its known pixels only (`hole`: True where a
        pixel is missing, broadcastable to the images): for completing images with holes."""
        self._require_fitted()
        known = (~hole.bool()).expand_as(images).flatten(1).float()
        x, c = images.flatten(1).float(), self.centroids.float()
        distances = (known * x * x).sum(1, keepdim=True) - 2 * (known * x) @ c.T + known @ (c * c).T
        return distances.argmin(1)

    def draw(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n cluster labels drawn in proportion to the cluster sizes (uniformly before the fit),
        on the generator's device, or the buffers' when none is given."""
        device = generator.device if generator is not None else self.sizes.device
        weights = (
            self.sizes.to(device) if self.fitted else torch.ones(self.num_clusters, device=device)
        )
        if n == 0:
            return torch.zeros(0, dtype=torch.long, device=device)
        return torch.multinomial(weights, n, replacement=True, generator=generator)

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise RuntimeError("the clusters of this self-conditioned GAN are not fitted yet")


def training_images(datamodule: Any) -> torch.Tensor:
    """The data module's training images (N, C, H, W), normalized as its batches are."""
    if not hasattr(datamodule, "split_images"):
        raise ValueError(
            "model.self_cond_clusters needs the fit to run with a cnngan data module (its "
            "training images are clustered when the fit starts)"
        )
    images, _ = datamodule.split_images("train")
    return datamodule.transform.normalize(images.float() / 255)


def fit_clusters(clusters: ClusterLabels, datamodule: Any, strategy: Any) -> None:
    """Fit `clusters` on the training images; every rank then takes rank 0's (a Lightning
    strategy's `broadcast`), so all replicas label reals alike."""
    clusters.fit(training_images(datamodule))
    fitted = (clusters.centroids.cpu(), clusters.sizes.cpu())
    centroids, sizes = strategy.broadcast(fitted, src=0)
    clusters.centroids.copy_(centroids)
    clusters.sizes.copy_(sizes)
