"""The fixed evaluator network: a small CNN classifier trained by this project (one per dataset)
whose features define the space of FID, KID and precision/recall, and whose softmax feeds the
Inception Score and mode coverage.

Image convention (one for every metric): images enter as floats in [0, 1] of shape (N, C, H, W),
or as uint8 in [0, 255]; the evaluator applies its own training normalization. Use
`cnngan.core.image_io.to_unit(images, "symmetric")` for GAN outputs in [-1, 1].

The weights ship as package data (`cnngan/metrics/weights/<name>.pt`) next to a JSON file with
their sha256, the test accuracy, the net config and the feature layers. Loading checks the hash:
a score is only comparable to another one computed with the same evaluator file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnngan.core.errors import UserError
from cnngan.nets.cnn import POOLS, ConvNet

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
# Feature layers: "penultimate" (input of the last linear layer) and "block<i>" (the output of
# the i-th conv block, 1-based, averaged over space: one mean per channel).
PENULTIMATE = "penultimate"


class EvaluatorError(UserError, RuntimeError):
    """The evaluator's weights are missing or do not match their recorded sha256 (the user's
    to fix: the commands print the message, no traceback)."""


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class FeatureNet(nn.Module):
    """Base of the metrics' feature networks: frozen, always in eval mode, one pass per batch.

    `forward(images)` returns float64 features (`num_features` wide), which is what torchmetrics'
    FID/KID expect from a custom feature module (float64 also keeps KID's cubic kernel exact);
    `logits_module()` returns a view whose forward gives class logits (for torchmetrics' Inception
    Score). The result for the last input tensor is kept, so FID, KID and IS updated with the same
    batch run the network once.
    """

    num_features: int
    num_classes: int
    # whether the logits are the scored dataset's own classes (a project evaluator: yes;
    # Inception's ImageNet classes: no), so that they can read a sample's class
    reads_dataset_classes: bool = False

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, Any] = {}
        self._last: tuple[Any, torch.Tensor, tuple[torch.Tensor, torch.Tensor]] | None = None

    def _features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(features float64 (N, num_features), logits (N, num_classes)); cached for the last
        input tensor (same object, not modified in place since)."""
        key = (id(images), images._version, tuple(images.shape), images.device)
        if self._last is not None and self._last[0] == key and self._last[1] is images:
            return self._last[2]
        with torch.no_grad():
            result = self._features_and_logits(images)
        self._last = (key, images, result)
        return result

    def forget(self) -> None:
        """Drop the cached last batch (frees its memory)."""
        self._last = None

    def train(self, mode: bool = True) -> FeatureNet:  # noqa: ARG002 - frozen on purpose
        """Ignore train(): Lightning and torchmetrics toggle the modes of child modules, and a
        classifier's batch norm/dropout in training mode would make features batch-dependent."""
        return super().train(False)

    @property
    def sha256(self) -> str | None:
        return self.meta.get("sha256")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(images)[0]

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(images)[1]

    def logits_module(self) -> nn.Module:
        """A module view returning logits (torchmetrics' InceptionScore applies the softmax)."""
        return _LogitsView(self)


class _LogitsView(nn.Module):
    def __init__(self, net: FeatureNet) -> None:
        super().__init__()
        self.net = net
        self.num_features = net.num_classes

    def train(self, mode: bool = True) -> _LogitsView:  # noqa: ARG002
        return super().train(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net.logits(images).double()


class Evaluator(FeatureNet):
    """A frozen `ConvNet` classifier + its input normalization.

    Features come from `layers` ("penultimate" and/or "block<i>"), each multiplied by its entry of
    `layer_scales` (to balance layers of different magnitude), then concatenated.
    """

    reads_dataset_classes = True

    def __init__(
        self,
        net: ConvNet,
        mean: Sequence[float],
        std: Sequence[float],
        layers: Sequence[str] = (PENULTIMATE,),
        layer_scales: Sequence[float] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.net = net
        self.register_buffer(
            "mean", torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1)
        )
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1))
        self._block_ends = [
            i for i, m in enumerate(net.features) if isinstance(m, tuple(POOLS.values()))
        ]
        widths = self.layer_widths()
        self.layers = list(layers)
        unknown = [name for name in self.layers if name not in widths]
        if unknown or not self.layers:
            raise ValueError(
                f"unknown feature layers {unknown or self.layers}; choose from {sorted(widths)}"
            )
        scales = list(layer_scales) if layer_scales is not None else [1.0] * len(self.layers)
        if len(scales) != len(self.layers):
            raise ValueError(f"{len(scales)} layer_scales for {len(self.layers)} layers")
        self.layer_scales = [float(s) for s in scales]
        self.num_features = sum(widths[name] for name in self.layers)
        self.num_classes = int(net.classifier[-1].out_features)
        self.meta = dict(meta or {})
        shape = self.meta.get("image_shape")
        self.image_shape = tuple(int(s) for s in shape) if shape else None
        self.requires_grad_(False)
        self.train(False)

    def layer_widths(self) -> dict[str, int]:
        widths = {PENULTIMATE: int(self.net.num_features)}
        modules = list(self.net.features)
        for i, end in enumerate(self._block_ends):
            conv = [m for m in modules[: end + 1] if isinstance(m, nn.Conv2d)][-1]
            widths[f"block{i + 1}"] = int(conv.out_channels)
        return widths

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 or [0, 1] float images -> the normalized input of the net."""
        if images.dtype == torch.uint8:
            images = images.float() / 255.0
        elif not torch.is_floating_point(images):
            raise TypeError(f"images must be uint8 or float in [0, 1], got {images.dtype}")
        if images.ndim != 4:
            raise ValueError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
        if self.image_shape and tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(
                f"this evaluator takes images of shape {list(self.image_shape)}, got {list(images.shape[1:])}"
            )
        low, high = float(images.min()), float(images.max())
        if low < -1e-3 or high > 1 + 1e-3:
            raise ValueError(
                f"images must be floats in [0, 1] (got values in [{low:.3f}, {high:.3f}]); convert "
                "GAN outputs in [-1, 1] with cnngan.core.image_io.to_unit(images, 'symmetric')"
            )
        return (images.float() - self.mean) / self.std

    def all_layers(self, images: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Every candidate feature layer ({name: (N, width)}) and the logits, in one pass."""
        x = self.prepare(images)
        found: dict[str, torch.Tensor] = {}
        for i, module in enumerate(self.net.features):
            x = module(x)
            if i in self._block_ends:
                found[f"block{self._block_ends.index(i) + 1}"] = x.float().mean(dim=(2, 3))
        found[PENULTIMATE] = self.net.embedding(x)
        return found, self.net.classifier(found[PENULTIMATE])

    def _features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        found, logits = self.all_layers(images)
        parts = [
            found[name].double() * scale
            for name, scale in zip(self.layers, self.layer_scales, strict=True)
        ]
        return torch.cat(parts, dim=1), logits.float()


# ---------------------------------------------------------------------------------- files
def evaluator_paths(name_or_path: str | Path) -> tuple[Path, Path]:
    """(weights .pt, metadata .json) of a shipped evaluator name or of a path to a .pt file."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".pt":
        return candidate, candidate.with_suffix(".json")
    return WEIGHTS_DIR / f"{name_or_path}.pt", WEIGHTS_DIR / f"{name_or_path}.json"


def available_evaluators() -> list[str]:
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.json") if p.with_suffix(".pt").is_file())


def read_metadata(name_or_path: str | Path) -> dict[str, Any]:
    weights, meta_path = evaluator_paths(name_or_path)
    if not meta_path.is_file() or not weights.is_file():
        raise EvaluatorError(
            f"no evaluator {str(name_or_path)!r}: {weights} and {meta_path} must both exist. "
            f"Shipped evaluators: {available_evaluators() or 'none'}. Train and install one with "
            "`python scripts/train_evaluator.py --data <name> --install` "
            "(Fashion-MNIST: `make evaluator ARGS=--install`)."
        )
    return json.loads(meta_path.read_text())


def verify_weights(weights: Path, expected_sha256: str) -> str:
    found = sha256_file(weights)
    if found != expected_sha256:
        raise EvaluatorError(
            f"evaluator weights {weights} have sha256 {found}, but their metadata records "
            f"{expected_sha256}. The file was modified or replaced; scores computed with it would "
            "not be comparable to published ones. Restore it (git checkout) or re-export it with "
            "scripts/train_evaluator.py, which writes matching metadata."
        )
    return found


def load_evaluator(
    name_or_path: str | Path = "fashion_mnist",
    layers: Sequence[str] | None = None,
    device: str | torch.device = "cpu",
) -> Evaluator:
    """Load a shipped evaluator by name (e.g. "fashion_mnist") or a .pt path with its .json,
    after checking the weights' sha256 against the metadata.

    `layers` overrides the feature layers recorded in the metadata (the recorded ones are the
    official protocol; other choices give scores that are not comparable).
    """
    meta = read_metadata(name_or_path)
    weights, _ = evaluator_paths(name_or_path)
    verify_weights(weights, meta["sha256"])
    net = ConvNet(**meta["net"])
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    features = meta.get("features", {})
    recorded = list(features.get("layers", [PENULTIMATE]))
    chosen = list(layers) if layers else recorded
    by_name = dict(zip(recorded, features.get("layer_scales", [1.0] * len(recorded)), strict=True))
    by_name.update(
        {k: v for k, v in features.get("layer_scale_by_name", {}).items() if k not in by_name}
    )
    evaluator = Evaluator(
        net,
        meta["normalize"]["mean"],
        meta["normalize"]["std"],
        layers=chosen,
        layer_scales=[by_name.get(name, 1.0) for name in chosen],
        meta={**meta, "image_shape": meta["data"]["image_shape"], "layers": chosen},
    )
    return evaluator.to(device)
