"""Which feature network a score is measured in: the project's evaluator of a dataset (the
default) or Inception-v3 (`features="inception"`, the protocol of published FIDs)."""

from __future__ import annotations

import torch

from cnngan.metrics.evaluator import FeatureNet, load_evaluator

FEATURES = ("evaluator", "inception")


def evaluator_name(evaluator: str | None, dataset: str | None) -> str:
    """The evaluator to load: `evaluator`, or for "auto"/None the dataset's own (Fashion-MNIST's
    when the dataset is unknown)."""
    if evaluator in (None, "auto"):
        return dataset or "fashion_mnist"
    return str(evaluator)


def build_feature_net(
    features: str,
    evaluator: str,
    inception_weights: str | None = None,
    device: str | torch.device = "cpu",
) -> FeatureNet:
    """The feature network of `features` ("evaluator" loads `evaluator` by name or .pt path)."""
    if features == "inception":
        from cnngan.metrics.inception import InceptionFeatures

        return InceptionFeatures(inception_weights).to(device)
    if features != "evaluator":
        raise ValueError(f"metrics.features={features!r}; choose one of {', '.join(FEATURES)}")
    return load_evaluator(evaluator, device=device)
