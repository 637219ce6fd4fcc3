"""Classification Accuracy Score (Ravuri & Vinyals 2019).

Train a classifier on images of a conditional GAN only (labels = the conditioning labels), test
it on the real test split, and report it next to the same classifier, same budget, trained on
as many real training images. A GAN whose samples carry the class-relevant content of the data
gets close to the real-data accuracy; one that drops modes or draws ambiguous images does not,
even when its FID is good.

This is the one metric that trains a network, so it uses Lightning here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from cnngan.data.sources import ImageArrays


def to_uint8(images01: torch.Tensor) -> torch.Tensor:
    """[0, 1] floats -> uint8, as if the samples had been saved as image files."""
    return (images01.clamp(0, 1) * 255).round().to(torch.uint8)


def labeled_samples(
    sample: Callable[[int, torch.Tensor], torch.Tensor],
    n: int,
    num_classes: int,
    batch_size: int = 500,
) -> tuple[torch.Tensor, torch.Tensor]:
    """n uint8 images with balanced labels from `sample(n, labels) -> images in [0, 1]`."""
    labels = torch.arange(n) % num_classes
    labels = labels[torch.randperm(n, generator=torch.Generator().manual_seed(0))]
    images = [to_uint8(sample(len(chunk), chunk)) for chunk in labels.split(batch_size)]
    return torch.cat(images), labels


def train_and_test(
    datamodule: Any,
    model_factory: Callable[[], Any],
    arrays: ImageArrays,
    epochs: int,
    seed: int,
    out_dir: str,
) -> float:
    """Fit a fresh classifier on arrays.train_* (no validation) and return its accuracy on
    arrays.test_*."""
    import lightning as L

    L.seed_everything(seed, workers=True, verbose=False)
    datamodule.arrays = arrays
    datamodule.val_size = 0
    datamodule.train_set = None
    datamodule.train_subset = None
    model = model_factory()
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="auto",
        devices=1,
        logger=False,
        callbacks=[],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        default_root_dir=out_dir,
    )
    trainer.fit(model, datamodule=datamodule)
    results = trainer.test(model, datamodule=datamodule, verbose=False)
    return float(results[0]["test/acc"])


def classification_accuracy_score(
    sample: Callable[[int, torch.Tensor], torch.Tensor],
    datamodule: Any,
    model_factory: Callable[[], Any],
    num_train: int,
    epochs: int,
    seed: int,
    out_dir: str,
) -> dict[str, float]:
    """CAS (classifier trained on `num_train` generated images) and the same classifier trained
    on `num_train` real training images, both tested on the real test split."""
    datamodule.prepare_data()
    datamodule.setup("fit")
    real = datamodule.arrays
    real_train = datamodule.train_set
    num_classes = datamodule.num_classes
    fake_x, fake_y = labeled_samples(sample, num_train, num_classes)
    pick = torch.randperm(len(real_train), generator=torch.Generator().manual_seed(seed))[
        :num_train
    ]
    real_arrays = ImageArrays(
        real_train.images[pick], real_train.labels[pick], real.test_x, real.test_y
    )
    fake_arrays = ImageArrays(fake_x, fake_y, real.test_x, real.test_y)
    cas = train_and_test(datamodule, model_factory, fake_arrays, epochs, seed, out_dir)
    real_acc = train_and_test(datamodule, model_factory, real_arrays, epochs, seed, out_dir)
    return {
        "cas_acc": cas,
        "cas_real_acc": real_acc,
        "cas_ratio": cas / real_acc if real_acc > 0 else float("nan"),
        "cas_num_train": float(min(num_train, len(pick))),
        "cas_epochs": float(epochs),
    }
