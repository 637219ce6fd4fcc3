"""Per-class FID, precision and recall against a direct numpy/scipy computation on synthetic
features, and the suite's handling of labels: a collapse inside one class shows in the per-class
scores while the overall ones hide it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnngan.metrics.per_class import per_class_scores
from cnngan.metrics.suite import PER_CLASS_SUMMARY_KEYS, GanMetrics
from tests.metrics.test_functional import FlatFeatures, np_fid, np_knn

CLASSES = 3
DIM = 6


def class_features(n_per_class: int, seed: int, spread: float = 1.0) -> tuple:
    """Features of CLASSES well separated Gaussian clusters and their labels."""
    generator = torch.Generator().manual_seed(seed)
    centers = torch.arange(CLASSES, dtype=torch.float64)[:, None] * 10 * torch.ones(DIM)
    labels = torch.arange(CLASSES).repeat_interleave(n_per_class)
    noise = torch.randn(len(labels), DIM, generator=generator, dtype=torch.float64)
    return centers[labels] + spread * noise, labels


def test_per_class_scores_match_numpy_and_scipy() -> None:
    real, real_labels = class_features(40, seed=0)
    fake, fake_labels = class_features(30, seed=1, spread=1.5)
    scores = per_class_scores(real, real_labels, fake, fake_labels, pr_k=3)
    for c in range(CLASSES):
        r, f = real[real_labels == c].numpy(), fake[fake_labels == c].numpy()
        expected = np_knn(r, f, k_pr=3, k_dc=3)
        assert scores[f"fid_class/{c}"] == pytest.approx(np_fid(r, f), rel=1e-6, abs=1e-8)
        assert scores[f"precision_class/{c}"] == pytest.approx(expected["precision"])
        assert scores[f"recall_class/{c}"] == pytest.approx(expected["recall"])
    per_class = {s: [scores[f"{s}_class/{c}"] for c in range(CLASSES)] for s in ("fid", "recall")}
    assert scores["fid_class_max"] == max(per_class["fid"])
    assert scores["recall_class_min"] == min(per_class["recall"])
    assert set(PER_CLASS_SUMMARY_KEYS) <= set(scores)


def test_a_class_without_enough_images_is_left_out_not_guessed() -> None:
    real, real_labels = class_features(20, seed=0)
    fake, fake_labels = class_features(20, seed=1)
    keep = (fake_labels != 2) | (torch.arange(len(fake_labels)) % 20 < 3)  # 3 fakes of class 2
    scores = per_class_scores(real, real_labels, fake[keep], fake_labels[keep], pr_k=3)
    assert scores["recall_class/2"] is None and scores["fid_class/2"] is None
    assert scores["recall_class_min"] == min(scores["recall_class/0"], scores["recall_class/1"])
    with pytest.raises(ValueError, match="labels of shape"):
        per_class_scores(real, real_labels[:-1], fake, fake_labels)


def suite_with(real, real_labels, fake, fake_labels, **kwargs) -> GanMetrics:
    suite = GanMetrics(FlatFeatures(DIM, num_classes=CLASSES), kid_subsets=5, **kwargs)
    suite.update(real, real=True, labels=real_labels)
    suite.update(fake, real=False, labels=fake_labels)
    return suite


def test_the_suite_shows_a_collapse_inside_one_class() -> None:
    """Class 1's samples collapse to one point: its recall falls to 0 and is the minimum, while
    the overall recall (two classes of three intact) stays high."""
    real, real_labels = class_features(60, seed=0)
    fake, fake_labels = class_features(60, seed=1)
    collapsed = fake.clone()
    collapsed[fake_labels == 1] = fake[fake_labels == 1][0] + 1e-3 * torch.rand(60, DIM)
    healthy = suite_with(real, real_labels, fake, fake_labels).compute()
    broken = suite_with(real, real_labels, collapsed, fake_labels).compute()
    assert healthy["recall_class_min"] > 0.5
    assert (
        broken["recall_class/1"] < 0.05 and broken["recall_class_min"] == broken["recall_class/1"]
    )
    assert broken["recall"] > 0.5  # the overall score hides it
    assert broken["fid_class_max"] == broken["fid_class/1"] > 10 * healthy["fid_class/1"]
    assert broken["recall_class/0"] == healthy["recall_class/0"]  # other classes untouched


def test_per_class_scores_need_labels_on_both_sides() -> None:
    real, real_labels = class_features(20, seed=0)
    fake, fake_labels = class_features(20, seed=1)
    assert "recall_class_min" not in suite_with(real, real_labels, fake, None).compute()
    off = suite_with(real, real_labels, fake, fake_labels, per_class=False)
    assert not any("_class" in key for key in off.compute())
    suite = suite_with(real, real_labels, fake, fake_labels)
    assert suite.protocol()["per_class"] is True
    first = suite.compute()
    suite.reset_fake()  # new samples, the same real labels
    suite.update(fake, real=False, labels=fake_labels)
    assert suite.compute()["recall_class/2"] == first["recall_class/2"]
    with pytest.raises(ValueError, match="3 labels for 60 images"):
        suite.update(fake, real=False, labels=fake_labels[:3])


def test_per_class_sample_cap_keeps_every_class() -> None:
    real, real_labels = class_features(50, seed=0)
    fake, fake_labels = class_features(50, seed=1)
    capped = suite_with(real, real_labels, fake, fake_labels, knn_max_samples=10).compute()
    assert all(capped[f"recall_class/{c}"] is not None for c in range(CLASSES))
    assert np.isfinite(capped["fid_class_max"])


class ClassReadingFeatures(FlatFeatures):
    """FlatFeatures whose logits (the first CLASSES columns) are the dataset's classes."""

    reads_dataset_classes = True


def one_hot_features(labels: torch.Tensor, seed: int) -> torch.Tensor:
    """Rows whose first CLASSES columns peak at the row's label, plus noise in every column."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(len(labels), DIM, generator=generator, dtype=torch.float64)
    return noise + 10 * torch.nn.functional.one_hot(labels, DIM).double()


def test_label_accuracy_reads_the_drawn_class_with_the_evaluators_own_pass() -> None:
    """Samples of class 1 that look like class 2: the evaluator reads class 1 in none of them, the
    other classes in all; the real images are read right. No extra network pass is made."""
    labels = torch.arange(CLASSES).repeat_interleave(40)
    looks_like = labels.clone()
    looks_like[labels == 1] = 2
    net = ClassReadingFeatures(DIM, num_classes=CLASSES)
    suite = GanMetrics(net, kid_subsets=5)
    suite.update(one_hot_features(labels, seed=0), real=True, labels=labels)
    suite.update(one_hot_features(looks_like, seed=1), real=False, labels=labels)
    assert net.calls == 2  # one per batch: FID, KID, IS and the labels share it
    scores = suite.compute()
    assert scores["label_acc_real"] == 1.0
    assert scores["label_acc"] == pytest.approx(2 / 3)
    assert scores["label_acc_class/1"] == 0.0 == scores["label_acc_class_min"]
    assert scores["label_acc_class/0"] == scores["label_acc_class/2"] == 1.0
    assert all(scores[f"label_acc_real_class/{c}"] == 1.0 for c in range(CLASSES))
    # a feature net whose logits are not the dataset's classes (Inception) reads no labels
    plain = suite_with(
        *(one_hot_features(labels, 0), labels), one_hot_features(looks_like, 1), labels
    )
    assert "label_acc" not in plain.compute()
