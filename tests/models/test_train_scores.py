"""The classifier's training-epoch scores: the values torchmetrics gives, from a confusion matrix."""

from __future__ import annotations

import pytest
import torch
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from cnngan.models.train_scores import RunningClassificationScores, scores_from_confusion


@pytest.mark.parametrize("labels_seen", [10, 6])
def test_scores_match_torchmetrics_over_uneven_batches(labels_seen: int) -> None:
    """Accuracy, macro F1 (also with classes that never occur as a label) and the loss weighted
    by batch size, over batches of different sizes."""
    torch.manual_seed(0)
    scores = RunningClassificationScores(10)
    accuracy = MulticlassAccuracy(10, average="micro")
    f1 = MulticlassF1Score(10, average="macro")
    mean_loss = MeanMetric()
    for size in (64, 17, 128, 3):
        logits = torch.randn(size, 10)
        labels = torch.randint(0, labels_seen, (size,))
        loss = torch.rand(())
        scores.update(logits, labels, loss)
        accuracy.update(logits, labels)
        f1.update(logits, labels)
        mean_loss.update(loss, weight=size)
    values = scores.compute()
    torch.testing.assert_close(values["acc"], accuracy.compute())
    torch.testing.assert_close(values["f1"], f1.compute())
    torch.testing.assert_close(values["loss"], mean_loss.compute())


def test_f1_skips_classes_nobody_predicts_or_has() -> None:
    """Class 2 never occurs: F1 is the mean over classes 0 and 1 (a perfect 0, a half-wrong 1)."""
    confusion = torch.tensor([[2, 0, 0], [1, 1, 0], [0, 0, 0]])
    values = scores_from_confusion(confusion)
    assert values["acc"].item() == pytest.approx(3 / 4)
    f1_class0, f1_class1 = 2 * 2 / (2 * 2 + 1), 2 * 1 / (2 * 1 + 1)
    assert values["f1"].item() == pytest.approx((f1_class0 + f1_class1) / 2)


def test_reset_starts_a_new_epoch() -> None:
    scores = RunningClassificationScores(3)
    scores.update(torch.eye(3), torch.tensor([0, 1, 2]), torch.tensor(1.0))
    scores.reset()
    scores.update(torch.eye(3), torch.tensor([1, 1, 1]), torch.tensor(2.0))
    values = scores.compute()
    assert values["acc"].item() == pytest.approx(1 / 3)
    assert values["loss"].item() == pytest.approx(2.0)
