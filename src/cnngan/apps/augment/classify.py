"""Class probabilities of uint8 images from a classifier checkpoint (the study's k-classifier) or
from the shipped evaluator, and the pseudo-labels made from them."""

from __future__ import annotations

from pathlib import Path

import torch

from cnngan.checkpoints.files import CheckpointError
from cnngan.checkpoints.model import model_from_checkpoint
from cnngan.core.errors import MissingInputError, UserError
from cnngan.data.transforms import BatchTransform
from cnngan.metrics.evaluator import load_evaluator
from cnngan.models.classifier import ImageClassifier


def load_classifier(
    ckpt_path: str | Path | None, needed_by: str
) -> tuple[ImageClassifier, BatchTransform]:
    """The classifier of a checkpoint (eval mode) and the input normalization it was trained with
    (from the data config stored in the checkpoint)."""
    if not ckpt_path or not Path(ckpt_path).is_file():
        raise MissingInputError(
            f"{needed_by}={ckpt_path} does not exist: train the k-classifier first (stage "
            "k_classifiers of scripts/augmentation_study.py: experiment=augment_classifier, seed=0, "
            "real only) or point it at a classifier checkpoint"
        )
    model, config = model_from_checkpoint(ckpt_path)
    if not isinstance(model, ImageClassifier):
        raise CheckpointError(
            f"{ckpt_path} holds a {type(model).__name__}, not a classifier; {needed_by} needs the "
            "checkpoint of a classifier run (experiment=augment_classifier)"
        )
    normalize = config["data"].get("normalize") or {}
    channels = int(config["data"]["image_shape"][0])
    transform = BatchTransform(
        normalize.get("mean", [0.5] * channels), normalize.get("std", [0.5] * channels)
    )
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


def pseudo_labels(
    ckpt_path: str,
    images: torch.Tensor,
    labels: torch.Tensor,
    labelled: torch.Tensor,
    num_classes: int,
) -> tuple[torch.Tensor, float]:
    """Labels for all `images`: the classifier's predictions, except at the indices `labelled`,
    which keep their own `labels`; and the predictions' accuracy on the other images (their true
    labels are only read for this report)."""
    predicted = predicted_labels(ckpt_path, images, num_classes, "data.pseudo_label_ckpt")
    unlabelled = unlabelled_mask(len(labels), labelled)
    accuracy = (predicted[unlabelled] == labels[unlabelled]).float().mean().item()
    out = predicted.clone()
    out[labelled] = labels[labelled]
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
    predictions' accuracy (true labels are only read for this report)."""
    unlabelled = unlabelled_mask(len(labels), labelled)
    if not unlabelled.any():
        raise UserError(
            "data.synthetic.source=pseudo_labels needs unlabelled images, but every training "
            "image is labelled (data.k_per_class=all): use it with a number k, or another lever"
        )
    pool = images[unlabelled]
    predicted = predicted_labels(ckpt_path, pool, num_classes, "data.synthetic.ckpt_path")
    accuracy = (predicted == labels[unlabelled]).float().mean().item()
    return pool, predicted, accuracy
