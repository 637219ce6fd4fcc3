"""GAN metrics: the project's evaluator network, FID/KID/IS (torchmetrics with the evaluator as
feature network), precision/recall, density/coverage, mode coverage and CAS.

Pure measurement: tensors or a feature network in, numbers out (no Hydra, no entry points).
Image convention: uint8 in [0, 255] or floats in [0, 1], shape (N, C, H, W); GAN outputs in
[-1, 1] go through `cnngan.core.image_io.to_unit(images, "symmetric")` first.
"""

from cnngan.metrics.evaluator import (
    Evaluator,
    EvaluatorError,
    FeatureNet,
    available_evaluators,
    load_evaluator,
)
from cnngan.metrics.feature_nets import build_feature_net
from cnngan.metrics.functional import fid_from_features, knn_metrics, mode_coverage
from cnngan.metrics.suite import SCORE_KEYS, GanMetrics, score_images

__all__ = [
    "SCORE_KEYS",
    "Evaluator",
    "EvaluatorError",
    "FeatureNet",
    "GanMetrics",
    "available_evaluators",
    "build_feature_net",
    "fid_from_features",
    "knn_metrics",
    "load_evaluator",
    "mode_coverage",
    "score_images",
]
