"""CAS itself, with a generator whose samples are real training images of the asked class."""

from __future__ import annotations

import pytest
import torch

from cnngan.data.datamodule import ImageDataModule
from cnngan.data.sources import load_digits
from cnngan.metrics.cas import classification_accuracy_score
from cnngan.models.classifier import ImageClassifier
from cnngan.nets import ConvNet


def small_classifier() -> ImageClassifier:
    net = ConvNet(in_shape=[1, 8, 8], num_classes=10, channels=[8, 16], fc_dims=[32])
    return ImageClassifier(
        net, optimizer=lambda params: torch.optim.Adam(params, 3e-3), num_classes=10
    )


def real_image_sampler(images: torch.Tensor, labels: torch.Tensor):
    """`sample(n, labels)`: for each label a random training image of that class, in [0, 1]."""
    generator = torch.Generator().manual_seed(1)
    by_class = {c: images[labels == c] for c in labels.unique().tolist()}

    def sample(n: int, wanted: torch.Tensor) -> torch.Tensor:
        picks = [
            by_class[c][torch.randint(len(by_class[c]), (1,), generator=generator)]
            for c in wanted.tolist()
        ]
        return torch.cat(picks).float() / 255

    return sample


def test_cas_num_train_none_uses_the_whole_training_split_and_real_samples_score_as_real(
    tmp_path,
) -> None:
    datamodule = ImageDataModule.from_arrays(load_digits(), name="digits", val_size=0)
    train_x, train_y = datamodule.split_images("train")
    result = classification_accuracy_score(
        real_image_sampler(train_x, train_y),
        datamodule,
        small_classifier,
        num_train=None,
        epochs=4,
        seed=0,
        out_dir=str(tmp_path),
    )
    assert result["cas_num_train"] == len(train_x)
    # samples drawn from the training images of their label: as good as the real training set
    assert result["cas_real_acc"] > 0.8
    assert result["cas_acc"] == pytest.approx(result["cas_real_acc"], abs=0.06)
