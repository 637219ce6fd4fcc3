"""Class probabilities of uint8 images from a classifier checkpoint (the study's k-classifier) or
from the shipped evaluator, and the pseudo-labels made from them."""

from __future__ import annotations

from pathlib import Path

import torch

from cnngan.checkpoints.files import CheckpointError
from cnngan.checkpoints.model import load_model
from cnngan.core.errors import UserError
from cnngan.data.normalization import normalization_stats
from cnngan.data.transforms import BatchTransform
from cnngan.metrics.evaluator import load_evaluator
from cnngan.models.classifier import ImageClassifier


def load_classifier(
    ckpt_path: str | Path | None, needed_by: str
) -> tuple[ImageClassifier, BatchTransform]:
    """The classifier of a checkpoint (eval mode) and the input normalization it was trained with
    (from the data config stored in the checkpoint)."""
    fix = (
        "train the k-classifier first (stage k_classifiers of scripts/augment_study: "
        f"experiment=augment_classifier, seed=0, real only) or point {needed_by} at a classifier "
        "checkpoint"
    )
    model, config = load_model(ckpt_path, ImageClassifier, needed_by, fix=fix)
    channels = int(config["data"]["image_shape"][0])
    transform = BatchTransform(*normalization_stats(config["data"].get("normalize"), channels))
    return model, transform


@torch.no_grad()
def classifier_probabilities(
    model: ImageClassifier,
    transform: BatchTransform,
    images: torch.Tensor,
    batch_size: int = 1000,
) -> torch.Tensor:
    """Softmax outputs (N, classes) of a classifier on uint8 images (its test-time flips included)."""
    model.eval()
    device = next(model.parameters()).device
    chunks = [
        torch.softmax(model(transform(chunk.to(device))).float(), dim=1).cpu()
        for chunk in images.split(batch_size)
    ]
    return torch.cat(chunks)


@torch.no_grad()
def evaluator_probabilities(
    name: str, images: torch.Tensor, batch_size: int = 1000
) -> torch.Tensor:
    """Softmax outputs (N, classes) of a shipped evaluator (trained on all labelled training
    images: an oracle for the few-shot setting) on uint8 images."""
    evaluator = load_evaluator(name)
    chunks = [
        torch.softmax(evaluator.logits(chunk).float(), dim=1) for chunk in images.split(batch_size)
    ]
    return torch.cat(chunks)


def check_classes(probabilities: torch.Tensor, num_classes: int, source: str) -> torch.Tensor:
    if probabilities.shape[1] != num_classes:
        raise CheckpointError(
            f"{source} predicts {probabilities.shape[1]} classes, the data has {num_classes}; "
            "use a classifier of this dataset"
        )
    return probabilities


def predicted_labels(
    ckpt_path: str, images: torch.Tensor, num_classes: int, needed_by: str
) -> torch.Tensor:
    """The classifier checkpoint's most probable class for every uint8 image."""
    model, transform = load_classifier(ckpt_path, needed_by)
    probabilities = classifier_probabilities(model, transform, images)
    return check_classes(probabilities, num_classes, ckpt_path).argmax(1)


def unlabelled_mask(n: int, labelled: torch.Tensor) -> torch.Tensor:
    """True at every index of range(n) that is not in `labelled`."""
    mask = torch.ones(n, dtype=torch.bool)
    mask[labelled] = False
    return mask


def predict_unlabelled(
    ckpt_path: str,
    images: torch.Tensor,
    labels: torch.Tensor,
    unlabelled: torch.Tensor,
    num_classes: int,
    needed_by: str,
) -> tuple[torch.Tensor, float]:
    """The classifier's class for every image where `unlabelled` is True, and the accuracy of
    those predictions (the true labels are only read for this report)."""
    predicted = predicted_labels(ckpt_path, images[unlabelled], num_classes, needed_by)
    return predicted, (predicted == labels[unlabelled]).float().mean().item()


def pseudo_labels(
    ckpt_path: str,
    images: torch.Tensor,
    labels: torch.Tensor,
    labelled: torch.Tensor,
    num_classes: int,
) -> tuple[torch.Tensor, float]:
    """Labels for all `images`: the classifier's predictions, except at the indices `labelled`,
    which keep their own `labels`; and the predictions' accuracy."""
    unlabelled = unlabelled_mask(len(labels), labelled)
    predicted, accuracy = predict_unlabelled(
        ckpt_path, images, labels, unlabelled, num_classes, "data.pseudo_label_ckpt"
    )
    out = labels.clone()
    out[unlabelled] = predicted
    return out, accuracy


def pseudo_labelled_pool(
    ckpt_path: str,
    images: torch.Tensor,
    labels: torch.Tensor,
    labelled: torch.Tensor,
    num_classes: int,
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """The unlabelled images (every index but `labelled`) with the classifier's predictions as
    labels: the training data of the study's gan_all generator, used directly. Also the
    predictions' accuracy."""
    unlabelled = unlabelled_mask(len(labels), labelled)
    if not unlabelled.any():
        raise UserError(
            "data.synthetic.source=pseudo_labels needs unlabelled images, but every training "
            "image is labelled (data.k_per_class=all): use it with a number k, or another lever"
        )
    predicted, accuracy = predict_unlabelled(
        ckpt_path, images, labels, unlabelled, num_classes, "data.synthetic.ckpt_path"
    )
    return images[unlabelled], predicted, accuracy
