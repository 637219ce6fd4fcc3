"""The confidence filter keeps exactly the GAN samples whose conditioning class gets probability
>= threshold, for both judges (a classifier checkpoint, the shipped evaluator)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cnngan.apps.augment.filter import FilterConfig, filter_pool, keep_mask, label_confidence
from cnngan.apps.augment.pool import sample_conditional_gan
from cnngan.apps.augment.study import FewShotDataModule
from cnngan.checkpoints.model import model_from_checkpoint
from cnngan.core.errors import UserError
from cnngan.metrics.evaluator import load_evaluator
from tests.apps.conftest import tiny_classifier_checkpoint


def test_keep_mask_is_the_threshold_on_the_conditioning_class() -> None:
    probabilities = torch.tensor([[0.8, 0.2], [0.3, 0.7], [0.5, 0.5], [0.1, 0.9]])
    labels = torch.tensor([0, 0, 1, 1])
    confidence = label_confidence(probabilities, labels)
    assert torch.equal(confidence, torch.tensor([0.8, 0.3, 0.5, 0.9]))
    assert keep_mask(confidence, 0.5).tolist() == [True, False, True, True]  # >=, not >
    assert keep_mask(confidence, 0.85).tolist() == [False, False, False, True]


def test_filter_by_the_k_classifier_keeps_exactly_the_confident_samples(
    tmp_path: Path, gan_ckpt: Path
) -> None:
    clf = tiny_classifier_checkpoint(tmp_path / "k_clf.ckpt")
    images, labels = sample_conditional_gan(gan_ckpt, 30, 10, (1, 8, 8), seed=1)
    # the classifier's own view, computed here: its stored normalization, softmax of its logits
    model, config = model_from_checkpoint(clf)
    mean, std = config["data"]["normalize"]["mean"][0], config["data"]["normalize"]["std"][0]
    with torch.no_grad():
        logits = model((images.float() / 255 - mean) / std)
    confidence = torch.softmax(logits, 1)[torch.arange(300), labels]
    threshold = float(confidence.median())  # about half pass: both outcomes are exercised
    cfg = FilterConfig(by="k_classifier", threshold=threshold, k_classifier_ckpt=str(clf))
    kept_x, kept_y, stats = filter_pool(cfg, images, labels, 10)
    expected = confidence >= threshold
    assert 0 < int(expected.sum()) < 300
    assert torch.equal(kept_x, images[expected]) and torch.equal(kept_y, labels[expected])
    assert stats["kept"] == int(expected.sum()) and stats["drawn"] == 300
    assert stats["kept_per_class"] == torch.bincount(labels[expected], minlength=10).tolist()
    assert stats["kept_fraction"] == pytest.approx(expected.float().mean().item())


def test_filter_by_the_evaluator_keeps_exactly_the_confident_samples() -> None:
    images = torch.randint(0, 256, (200, 1, 28, 28), generator=torch.Generator().manual_seed(0))
    images = images.to(torch.uint8)
    labels = torch.arange(200) % 10
    evaluator = load_evaluator("fashion_mnist")
    with torch.no_grad():
        probabilities = torch.softmax(evaluator.net(evaluator.prepare(images)).float(), 1)
    confidence = probabilities[torch.arange(200), labels]
    threshold = float(confidence.median())
    cfg = FilterConfig(by="evaluator", threshold=threshold, evaluator="fashion_mnist")
    _, kept_y, stats = filter_pool(cfg, images, labels, 10)
    expected = confidence >= threshold
    assert torch.equal(kept_y, labels[expected]) and stats["kept"] == int(expected.sum())


def test_no_filter_keeps_all_and_an_empty_pool_is_one_named_error(
    tmp_path: Path, gan_ckpt: Path
) -> None:
    images, labels = sample_conditional_gan(gan_ckpt, 2, 10, (1, 8, 8))
    kept_x, _, stats = filter_pool(FilterConfig(), images, labels, 10)
    assert torch.equal(kept_x, images) and stats["kept_fraction"] == 1.0
    clf = tiny_classifier_checkpoint(tmp_path / "k_clf.ckpt")
    synthetic = {
        "ckpt_path": str(gan_ckpt),
        "ratio": 1.0,
        "pool_per_class": 2,
        "filter": {"by": "k_classifier", "threshold": 1.0, "k_classifier_ckpt": str(clf)},
    }
    dm = FewShotDataModule(
        name="digits", data_dir="unused", image_shape=[1, 8, 8], num_classes=10, val_size=200,
        k_per_class=2, synthetic=synthetic,
    )  # fmt: skip
    with pytest.raises(UserError, match="kept none of the 20 GAN samples.*lower"):
        dm.setup("fit")
