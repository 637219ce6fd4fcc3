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

from cnngan.core.image_io import to_uint8
from cnngan.data.sources import ImageArrays


def labeled_samples(
    sample: Callable[[int, torch.Tensor], torch.Tensor],
    n: int,
    num_classes: int,
    batch_size: int = 500,
) -> tuple[torch.Tensor, torch.Tensor]:
    """n uint8 images with balanced labels from `sample(n, labels) -> images in [0, 1]`."""
    labels = torch.arange(n) % num_classes
    labels = labels[torch.randperm(n, generator=torch.Generator().manual_seed(0))]
    images = [to_uint8(sample(len(chunk), chunk), "unit") for chunk in labels.split(batch_size)]
    return torch.cat(images), labels


def train_and_test(
    datamodule: Any, model_factory: Callable[[], Any], epochs: int, seed: int, out_dir: str
) -> float:
    """Fit a fresh classifier on the data module's training split (no validation) and return its
    accuracy on its test split."""
    import lightning as L

    L.seed_everything(seed, workers=True, verbose=False)
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
    num_train: int | None,
    epochs: int,
    seed: int,
    out_dir: str,
) -> dict[str, float]:
    """CAS (classifier trained on `num_train` generated images) and the same classifier trained
    on `num_train` real training images, both tested on the real test split. `num_train=None`:
    as many images as the real training split holds (Ravuri & Vinyals' protocol).

    `datamodule` is an `ImageDataModule` of the GAN's dataset; both trainings run on copies of it
    (`with_arrays`) that hold the training images of each side and the real test split.
    """
    train_x, train_y = datamodule.split_images("train")
    test_x, test_y = datamodule.split_images("test")
    n = len(train_x) if num_train is None else min(int(num_train), len(train_x))
    fake_x, fake_y = labeled_samples(sample, n, datamodule.num_classes)
    pick = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(seed))[:n]
    sides = {
        "fake": ImageArrays(fake_x, fake_y, test_x, test_y),
        "real": ImageArrays(train_x[pick], train_y[pick], test_x, test_y),
    }
    acc = {
        side: train_and_test(
            datamodule.with_arrays(arrays, val_size=0), model_factory, epochs, seed, out_dir
        )
        for side, arrays in sides.items()
    }
    return {
        "cas_acc": acc["fake"],
        "cas_real_acc": acc["real"],
        "cas_ratio": acc["fake"] / acc["real"] if acc["real"] > 0 else float("nan"),
        "cas_num_train": float(len(pick)),
        "cas_epochs": float(epochs),
    }
