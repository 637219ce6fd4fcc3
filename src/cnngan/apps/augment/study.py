"""GAN data augmentation: k real images per class, mixed with a conditional GAN's samples.

`FewShotDataModule` is the project's `ImageDataModule` with these additions:

- `k_per_class`: keep only k training images of every class (a fixed, stratified choice that
  depends on `subset_seed` only, so the GANs and classifiers of one k see the same images);
  `null` or "all" keeps the whole training split.
- `pseudo_label_ckpt` (GAN side): keep ALL training images, labelled by that classifier's
  predictions, except the k labelled images per class, which keep their own labels.
- `synthetic`: a pool of `pool_per_class` images per class drawn once from a conditional GAN
  checkpoint (balanced labels, seeded), optionally filtered by a classifier's confidence
  (`augment_filter.py`), stored as uint8 like the real images so the same on-device normalization
  and augmentation apply to both. `source: pseudo_labels` is the control of the GAN on all images:
  the pool is the unlabelled training images themselves, labelled by the classifier `ckpt_path`.
- the training order (`augment_sampler.py`): `real_per_epoch` real draws per epoch (`epoch_size`,
  or one pass over the real images and at least `min_epoch_size`), plus ratio x that many
  synthetic draws, mixed into every batch ("mix") or all first ("pretrain").

Validation and test sets stay real (the training split's held-out part and the test split). When
a Trainer runs it, the module writes what it served (counts, filter, pseudo-label accuracy) to
`augment_data.json` in the run folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from cnngan.apps.augment.classify import pseudo_labelled_pool, pseudo_labels
from cnngan.apps.augment.filter import FilterConfig, filter_pool
from cnngan.apps.augment.pool import sample_conditional_gan
from cnngan.apps.augment.sampler import MODES, MixingSampler, pretrain_epochs
from cnngan.core.errors import UserError, require_positive
from cnngan.core.json_safe import write_json
from cnngan.core.rank import log
from cnngan.data.datamodule import ImageDataModule, InMemoryImages, keep_batch
from cnngan.data.sources import ImageArrays

ALL = "all"
# where the synthetic pool comes from: a conditional GAN's samples, or the unlabelled real images
# with a classifier's labels (the data the gan_all generator learns from, used directly)
SOURCES = ("gan", "pseudo_labels")
INFO_FILE = "augment_data.json"


@dataclass
class SyntheticConfig:
    """Where synthetic images come from, which are kept, and how many of them are drawn."""

    ckpt_path: str | None = None
    source: str = "gan"
    ratio: float = 0.0
    mode: str = "mix"
    pool_per_class: int = 1000
    seed: int = 0
    use_ema: bool = True
    filter: FilterConfig = field(default_factory=FilterConfig)

    @property
    def active(self) -> bool:
        return self.ratio > 0

    def __post_init__(self) -> None:
        if isinstance(self.filter, Mapping):
            self.filter = FilterConfig(**self.filter)
        if self.ratio < 0:
            raise ValueError(
                f"data.synthetic.ratio={self.ratio} must be >= 0 (synthetic draws per real draw)"
            )
        if self.active and not self.ckpt_path:
            raise ValueError(
                f"data.synthetic.ratio={self.ratio} needs data.synthetic.ckpt_path=<conditional "
                "GAN checkpoint>"
            )
        if self.source not in SOURCES:
            raise ValueError(
                f"data.synthetic.source={self.source!r}; choose one of {list(SOURCES)}"
            )
        if self.mode not in MODES:
            raise ValueError(f"data.synthetic.mode={self.mode!r}; choose one of {list(MODES)}")
        require_positive("data.synthetic.pool_per_class", self.pool_per_class)


def parse_k(k: int | str | None) -> int | None:
    """k images per class: an int >= 1, or None / "all" for the whole split."""
    if k is None or (isinstance(k, str) and k.lower() == ALL):
        return None
    try:
        k = int(k)
    except ValueError:
        raise ValueError(f"data.k_per_class={k!r} must be a number >= 1 or 'all'") from None
    return require_positive("data.k_per_class", k, hint="or 'all'")


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


class FewShotDataModule(ImageDataModule):
    """`ImageDataModule` with k real images per class plus synthetic images (module docstring).

    Args:
        k_per_class: images per class kept from the training split (int, or null/"all").
        subset_seed: seed of the k-per-class choice (the same for every run of one k).
        synthetic: `SyntheticConfig` fields: ckpt_path, source, ratio, mode, pool_per_class, seed,
            use_ema, filter (`FilterConfig` fields: by, threshold, k_classifier_ckpt, evaluator).
        epoch_size: real draws per epoch; null = one pass over the real images.
        min_epoch_size: with epoch_size null, at least this many real draws per epoch.
        pseudo_label_ckpt: classifier checkpoint whose predictions label the training images
            (all of them are kept); the k per class keep their true labels. null = off.
        **kwargs: `ImageDataModule` arguments.
    """

    def __init__(
        self,
        *args: Any,
        k_per_class: int | str | None = None,
        subset_seed: int = 0,
        synthetic: Mapping[str, Any] | None = None,
        epoch_size: int | None = None,
        min_epoch_size: int | None = None,
        pseudo_label_ckpt: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.k_per_class = parse_k(k_per_class)
        self.subset_seed = int(subset_seed)
        self.synthetic = SyntheticConfig(**dict(synthetic or {}))
        self.epoch_size = int(epoch_size) if epoch_size else None
        self.min_epoch_size = int(min_epoch_size or 0)
        self.pseudo_label_ckpt = pseudo_label_ckpt
        self.n_real = 0
        self.n_synthetic = 0
        self.info: dict[str, Any] = {}

    # ------------------------------------------------------------------ data
    def with_arrays(
        self, arrays: ImageArrays, val_size: int | None = None, train_subset: int | None = None
    ) -> ImageDataModule:
        """A copy that serves `arrays` whole (e.g. CAS's generated training images): no k per
        class, no pseudo-labels, no synthetic pool, one pass per epoch."""
        module = super().with_arrays(arrays, val_size, train_subset)
        module.k_per_class, module.pseudo_label_ckpt = None, None
        module.synthetic, module.epoch_size, module.min_epoch_size = SyntheticConfig(), None, 0
        module.info = {}
        return module

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        super().setup(stage)
        split_images, split_labels = self.train_set.images, self.train_set.labels
        labelled = self._labelled(split_labels)
        images, labels = self._real_images(split_images, split_labels, labelled)
        self.n_real = len(labels)
        fake_x, fake_y = self._synthetic_pool(split_images, split_labels, labelled)
        self.n_synthetic = len(fake_y)
        self.train_set = InMemoryImages(torch.cat([images, fake_x]), torch.cat([labels, fake_y]))
        self.info |= {"k_per_class": self.k_per_class or ALL, "n_real": self.n_real}
        self.info |= {"n_synthetic": self.n_synthetic, "ratio": self.synthetic.ratio}
        log.info(
            "FewShotDataModule: %d real training images (k_per_class=%s) + %d synthetic, ratio %.2f",
            self.n_real,
            self.k_per_class or ALL,
            self.n_synthetic,
            self.synthetic.ratio,
        )

    def _labelled(self, labels: torch.Tensor) -> torch.Tensor:
        """Indices of the labelled training images: the k per class, or all of them."""
        if self.k_per_class is None:
            return torch.arange(len(labels))
        return select_per_class(labels, self.k_per_class, self.num_classes, self.subset_seed)

    def _real_images(
        self, images: torch.Tensor, labels: torch.Tensor, labelled: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The k per class with their labels, or all images with pseudo-labels."""
        if not self.pseudo_label_ckpt:
            return images[labelled], labels[labelled]
        labels, accuracy = pseudo_labels(
            self.pseudo_label_ckpt, images, labels, labelled, self.num_classes
        )
        self.info |= {"pseudo_labels": self.pseudo_label_ckpt, "pseudo_label_acc": accuracy}
        log.info("pseudo-labels of the unlabelled images: %.2f%% correct", 100 * accuracy)
        return images, labels

    def _synthetic_pool(
        self, split_images: torch.Tensor, split_labels: torch.Tensor, labelled: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The pool's images (after the filter), or an empty pool when synthetic data is off."""
        cfg = self.synthetic
        if not cfg.active:
            return torch.zeros(0, *self.image_shape, dtype=torch.uint8), torch.zeros(
                0, dtype=torch.long
            )
        if cfg.source == "pseudo_labels":
            images, labels, accuracy = pseudo_labelled_pool(
                cfg.ckpt_path, split_images, split_labels, labelled, self.num_classes
            )
            self.info |= {"pool_label_acc": accuracy}
        else:
            images, labels = sample_conditional_gan(
                cfg.ckpt_path,
                cfg.pool_per_class,
                self.num_classes,
                self.image_shape,
                cfg.seed,
                cfg.use_ema,
            )
        images, labels, stats = filter_pool(cfg.filter, images, labels, self.num_classes)
        if len(labels) == 0:
            raise UserError(
                f"data.synthetic.filter kept none of the {stats['drawn']} GAN samples "
                f"(by={cfg.filter.by}, threshold={cfg.filter.threshold}): lower "
                "data.synthetic.filter.threshold or use a better generator"
            )
        log.info("synthetic pool: kept %d of %d (%s)", stats["kept"], stats["drawn"], cfg.filter.by)
        self.info |= {
            "synthetic": {
                "ckpt_path": cfg.ckpt_path,
                "source": cfg.source,
                "mode": cfg.mode,
                **stats,
            }
        }
        return images, labels

    # ------------------------------------------------------------------ order
    @property
    def real_per_epoch(self) -> int:
        return self.epoch_size or max(self.n_real, self.min_epoch_size)

    def train_sampler(self) -> MixingSampler:
        cfg = self.synthetic
        synthetic_epochs = 0
        if cfg.active and cfg.mode == "pretrain":
            max_epochs = self.trainer.max_epochs if self.trainer is not None else None
            synthetic_epochs = pretrain_epochs(int(max_epochs or 0), cfg.ratio)
        self.info |= {"real_per_epoch": self.real_per_epoch, "pretrain_epochs": synthetic_epochs}
        return MixingSampler(
            self.n_real,
            self.train_set.labels[self.n_real :],
            self.real_per_epoch,
            cfg.ratio,
            cfg.mode,
            synthetic_epochs,
            seed=self._seed(),
        )

    def train_dataloader(self) -> DataLoader:
        sampler = self.train_sampler()
        self._write_info()
        return DataLoader(
            self.train_set,
            batch_size=min(self.batch_size, len(sampler)),
            sampler=sampler,
            drop_last=True,
            collate_fn=keep_batch,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )

    def _write_info(self) -> None:
        trainer = self.trainer
        if trainer is not None and trainer.is_global_zero:
            write_json(Path(trainer.default_root_dir) / INFO_FILE, self.info)
