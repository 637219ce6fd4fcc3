"""GAN data augmentation: k real images per class, mixed with a conditional GAN's samples.

`FewShotDataModule` is the project's `ImageDataModule` with three additions:

- `k_per_class`: keep only k training images of every class (a fixed, stratified choice that
  depends on `subset_seed` only, so the GAN and the classifier of one k see the same images);
  `null` or "all" keeps the whole training split.
- `synthetic`: a pool of `pool_per_class` images per class drawn once from a conditional GAN
  checkpoint (balanced labels, fixed seed), stored as uint8 exactly like real images, so the same
  on-device normalization applies to both.
- a training sampler that draws `epoch_size` samples per epoch with replacement, with weights
  chosen so that a batch holds on average `ratio` synthetic images per real image
  (ratio 1 = half of every batch synthetic). A fixed `epoch_size` gives every k and every ratio the
  same number of optimizer steps per epoch, so runs are compared at equal budget.

Validation and test sets stay real (the training split's held-out part and the test split).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, WeightedRandomSampler

from cnngan.apps.gan_checkpoint import load_gan
from cnngan.data.datamodule import ImageDataModule, InMemoryImages, keep_batch
from cnngan.utils.checkpoint import CheckpointError
from cnngan.utils.errors import UserError
from cnngan.utils.image_io import to_uint8
from cnngan.utils.rank import log

ALL = "all"


@dataclass
class SyntheticConfig:
    """Where synthetic images come from and how many of them a batch holds."""

    ckpt_path: str | None = None
    ratio: float = 0.0
    pool_per_class: int = 1000
    seed: int = 0
    use_ema: bool = True

    @property
    def active(self) -> bool:
        return self.ratio > 0

    def __post_init__(self) -> None:
        if self.ratio < 0:
            raise ValueError(
                f"synthetic.ratio={self.ratio} must be >= 0 (synthetic per real image)"
            )
        if self.active and not self.ckpt_path:
            raise ValueError(
                f"synthetic.ratio={self.ratio} needs synthetic.ckpt_path=<conditional GAN checkpoint>"
            )
        if self.pool_per_class < 1:
            raise ValueError(f"synthetic.pool_per_class={self.pool_per_class} must be >= 1")


def parse_k(k: int | str | None) -> int | None:
    """k images per class: an int >= 1, or None / "all" for the whole split."""
    if k is None or (isinstance(k, str) and k.lower() == ALL):
        return None
    k = int(k)
    if k < 1:
        raise ValueError(f"k_per_class={k} must be >= 1 (or 'all')")
    return k


def select_per_class(labels: torch.Tensor, k: int, num_classes: int, seed: int) -> torch.Tensor:
    """Indices of k images of every class, chosen at random with a fixed seed, sorted."""
    gen = torch.Generator().manual_seed(seed)
    chosen = []
    for c in range(num_classes):
        members = (labels == c).nonzero().flatten()
        if len(members) < k:
            raise UserError(
                f"class {c} has only {len(members)} training images; cannot take "
                f"data.k_per_class={k}: choose a smaller k (or 'all')"
            )
        chosen.append(members[torch.randperm(len(members), generator=gen)[:k]])
    return torch.cat(chosen).sort().values


def mixing_weights(n_real: int, n_synthetic: int, ratio: float) -> torch.Tensor:
    """Sampling weights (real first, then synthetic) such that a draw is synthetic with
    probability ratio / (1 + ratio), and uniform within each group."""
    real = torch.full((n_real,), 1.0 / (1.0 + ratio) / n_real, dtype=torch.float64)
    if n_synthetic == 0 or ratio == 0:
        return torch.cat([real, torch.zeros(n_synthetic, dtype=torch.float64)])
    synthetic = torch.full((n_synthetic,), ratio / (1.0 + ratio) / n_synthetic, dtype=torch.float64)
    return torch.cat([real, synthetic])


def sample_conditional_gan(
    ckpt_path: str | Path,
    per_class: int,
    num_classes: int,
    image_shape: tuple[int, ...],
    seed: int = 0,
    use_ema: bool = True,
    batch_size: int = 1000,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`per_class` uint8 images of every class from a conditional GAN checkpoint, and labels."""
    model, _ = load_gan(ckpt_path, "data.synthetic.ckpt_path", conditional=True)
    hp = model.hparams
    if int(hp.num_classes) != num_classes or tuple(hp.image_shape) != tuple(image_shape):
        raise CheckpointError(
            f"{ckpt_path}: the GAN makes {hp.num_classes} classes of shape "
            f"{list(hp.image_shape)}, the data has {num_classes} of shape {list(image_shape)}; "
            "give data.synthetic.ckpt_path a GAN trained on this dataset"
        )
    labels = torch.arange(num_classes).repeat_interleave(per_class)
    gen = torch.Generator().manual_seed(seed)
    images = []
    for chunk in labels.split(batch_size):
        z = torch.randn(len(chunk), int(hp.latent_dim), generator=gen)
        images.append(to_uint8(model.decode(z, chunk, use_ema=use_ema).cpu(), "symmetric"))
    return torch.cat(images), labels


class FewShotDataModule(ImageDataModule):
    """`ImageDataModule` with k real images per class plus synthetic images (module docstring).

    Args:
        k_per_class: images per class kept from the training split (int, or null/"all").
        subset_seed: seed of the k-per-class choice (the same for every run of one k).
        synthetic: `SyntheticConfig` fields: ckpt_path, ratio, pool_per_class, seed, use_ema.
        epoch_size: training samples drawn (with replacement) per epoch; null = one pass over
            the real images.
        **kwargs: `ImageDataModule` arguments.
    """

    def __init__(
        self,
        *args: Any,
        k_per_class: int | str | None = None,
        subset_seed: int = 0,
        synthetic: Mapping[str, Any] | None = None,
        epoch_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.k_per_class = parse_k(k_per_class)
        self.subset_seed = int(subset_seed)
        self.synthetic = SyntheticConfig(**dict(synthetic or {}))
        self.epoch_size = int(epoch_size) if epoch_size else None
        self.n_real = 0
        self.n_synthetic = 0

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        super().setup(stage)
        images, labels = self.train_set.images, self.train_set.labels
        if self.k_per_class is not None:
            idx = select_per_class(labels, self.k_per_class, self.num_classes, self.subset_seed)
            images, labels = images[idx], labels[idx]
        self.n_real = len(labels)
        if self.synthetic.active:
            fake_x, fake_y = sample_conditional_gan(
                self.synthetic.ckpt_path,
                self.synthetic.pool_per_class,
                self.num_classes,
                self.image_shape,
                seed=self.synthetic.seed,
                use_ema=self.synthetic.use_ema,
            )
            images, labels = torch.cat([images, fake_x]), torch.cat([labels, fake_y])
            self.n_synthetic = len(fake_y)
        self.train_set = InMemoryImages(images, labels)
        log.info(
            "FewShotDataModule: %d real training images (k_per_class=%s) + %d synthetic, ratio %.2f",
            self.n_real,
            self.k_per_class or ALL,
            self.n_synthetic,
            self.synthetic.ratio,
        )

    @property
    def is_synthetic(self) -> torch.Tensor:
        """Boolean mask over the training set: True for GAN images (they come last)."""
        return torch.arange(self.n_real + self.n_synthetic) >= self.n_real

    def train_sampler(self) -> WeightedRandomSampler | None:
        if not self.epoch_size and not self.synthetic.active:
            return None  # plain shuffling, as in ImageDataModule
        weights = mixing_weights(self.n_real, self.n_synthetic, self.synthetic.ratio)
        num_samples = self.epoch_size or self.n_real
        gen = torch.Generator().manual_seed(torch.initial_seed() % 2**63)
        return WeightedRandomSampler(
            weights, num_samples=num_samples, replacement=True, generator=gen
        )

    def train_dataloader(self) -> DataLoader:
        sampler = self.train_sampler()
        n = len(sampler) if sampler is not None else len(self.train_set)
        return DataLoader(
            self.train_set,
            batch_size=min(self.batch_size, n),  # k=10: 100 images, fewer than one batch
            sampler=sampler,
            shuffle=sampler is None,
            drop_last=True,
            collate_fn=keep_batch,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )
