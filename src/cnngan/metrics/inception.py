"""Optional Inception-v3 features (`metrics.features=inception`), the protocol of published FIDs.

Uses torchmetrics' wrapper of torch-fidelity's Inception port. Neither torch-fidelity nor its
weight file is required by this project: without them this module raises a clear message, and
the default feature space stays the project's own evaluator.
"""

from __future__ import annotations

from pathlib import Path

import torch

from cnngan.metrics.evaluator import FeatureNet, sha256_file

# torch-fidelity's weight file (converted from the TF FID Inception graph), cached by torch.hub
INCEPTION_WEIGHTS = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" + INCEPTION_WEIGHTS
)


class InceptionUnavailableError(RuntimeError):
    """torch-fidelity or the Inception weights are not available on this machine."""


def find_inception_weights(path: str | Path | None = None) -> Path:
    """The Inception weight file: `path` when given, else torch.hub's cache; or a clear error."""
    candidates = (
        [Path(path)] if path else [Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS]
    )
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise InceptionUnavailableError(
        f"Inception weights not found (looked for {', '.join(str(c) for c in candidates)}). "
        "metrics.features=inception needs them and cannot download them here. Either download "
        f"{INCEPTION_URL} on a machine with internet, copy it there (or pass "
        "metrics.inception_weights=<file>), or use the project's evaluator: "
        "metrics.features=evaluator (the default)."
    )


def _require_torch_fidelity() -> None:
    from torchmetrics.utilities.imports import _TORCH_FIDELITY_AVAILABLE

    if not _TORCH_FIDELITY_AVAILABLE:
        raise InceptionUnavailableError(
            "metrics.features=inception needs the torch-fidelity package "
            "(`pip install torch-fidelity`) and its Inception weights; the default "
            "metrics.features=evaluator needs neither."
        )


class InceptionFeatures(FeatureNet):
    """Inception-v3 pool3 features (2048) and logits (1008) for images in [0, 1] or uint8.

    Grayscale images are repeated to 3 channels; torch-fidelity resizes to 299x299 itself.
    """

    num_features = 2048
    num_classes = 1008

    def __init__(self, weights_path: str | Path | None = None) -> None:
        super().__init__()
        _require_torch_fidelity()
        weights = find_inception_weights(weights_path)
        from torchmetrics.image.fid import NoTrainInceptionV3

        self.net = NoTrainInceptionV3(
            name="inception-v3-compat",
            features_list=["2048", "logits_unbiased"],
            feature_extractor_weights_path=str(weights),
        )
        self.meta = {
            "name": "inception-v3-compat",
            "sha256": sha256_file(weights),
            "layers": ["pool3"],
        }

    def _features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if images.dtype != torch.uint8:
            images = (images.clamp(0, 1) * 255).round().to(torch.uint8)
        if images.shape[1] == 1:
            images = images.repeat(1, 3, 1, 1)
        features, logits = self.net(images)
        return features.double(), logits.float()
