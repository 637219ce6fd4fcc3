"""Confidence filtering of GAN samples: keep a sample when a classifier assigns it to its
conditioning class with probability >= threshold.

`by` names the classifier and so what information the filter uses:
- "k_classifier": the CNN trained on the same k real images per class (no extra labels);
- "evaluator": the shipped evaluator, trained on all labelled training images (an oracle);
- "none": keep every sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cnngan.apps.augment.classify import (
    check_classes,
    classifier_probabilities,
    evaluator_probabilities,
    load_classifier,
)

FILTERS = ("none", "k_classifier", "evaluator")


@dataclass
class FilterConfig:
    """`data.synthetic.filter`: which classifier judges the samples, and the threshold."""

    by: str = "none"
    threshold: float = 0.9
    k_classifier_ckpt: str | None = None
    evaluator: str = "fashion_mnist"

    def __post_init__(self) -> None:
        if self.by not in FILTERS:
            raise ValueError(f"data.synthetic.filter.by={self.by!r}; choose one of {list(FILTERS)}")
        if not 0.0 <= float(self.threshold) <= 1.0:
            raise ValueError(
                f"data.synthetic.filter.threshold={self.threshold} must be a probability in [0, 1]"
            )
        self.threshold = float(self.threshold)

    @property
    def active(self) -> bool:
        return self.by != "none"


def label_confidence(probabilities: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """P(label of each sample) under the classifier: probabilities[i, labels[i]]."""
    return probabilities.gather(1, labels[:, None].long()).squeeze(1)


def keep_mask(confidence: torch.Tensor, threshold: float) -> torch.Tensor:
    """True where the confidence in the conditioning class reaches the threshold."""
    return confidence >= threshold


def pool_probabilities(
    config: FilterConfig, images: torch.Tensor, num_classes: int
) -> torch.Tensor:
    """Class probabilities of the pool's uint8 images under the filter's classifier."""
    if config.by == "k_classifier":
        model, transform = load_classifier(
            config.k_classifier_ckpt, "data.synthetic.filter.k_classifier_ckpt"
        )
        probabilities = classifier_probabilities(model, transform, images)
        return check_classes(probabilities, num_classes, str(config.k_classifier_ckpt))
    probabilities = evaluator_probabilities(config.evaluator, images)
    return check_classes(probabilities, num_classes, f"evaluator {config.evaluator}")


def filter_pool(
    config: FilterConfig, images: torch.Tensor, labels: torch.Tensor, num_classes: int
) -> tuple[torch.Tensor, torch.Tensor, dict[str, object]]:
    """The kept images and labels, and what was kept (overall share and count per class)."""
    if not config.active:
        kept = torch.ones(len(labels), dtype=torch.bool)
    else:
        probabilities = pool_probabilities(config, images, num_classes)
        kept = keep_mask(label_confidence(probabilities, labels), config.threshold)
    per_class = torch.bincount(labels[kept], minlength=num_classes)
    stats = {
        "filter": config.by,
        "threshold": config.threshold if config.active else None,
        "drawn": len(labels),
        "kept": int(kept.sum()),
        "kept_fraction": float(kept.float().mean()) if len(labels) else 0.0,
        "kept_per_class": per_class.tolist(),
    }
    return images[kept], labels[kept], stats
