"""A small evaluator for the 8x8 digits, trained in about a second and written like a shipped one
(weights .pt + metadata .json with its sha256), so the GAN metrics run end to end without
Fashion-MNIST."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from cnngan.data.sources import load_digits
from cnngan.metrics.evaluator import sha256_file
from cnngan.nets.cnn import ConvNet

NET = {"in_shape": [1, 8, 8], "num_classes": 10, "channels": [8, 16], "fc_dims": [32]}
NORMALIZE = {"mean": [0.3], "std": [0.38]}
DATA = {
    "_target_": "cnngan.data.ImageDataModule",
    "name": "digits",
    "image_shape": [1, 8, 8],
    "num_classes": 10,
    "val_size": 200,
    "batch_size": 64,
    "eval_batch_size": 500,
    "download": False,
    "normalize": NORMALIZE,
}


def train_digits_net(steps: int = 60, seed: int = 0) -> ConvNet:
    torch.manual_seed(seed)
    arrays = load_digits()
    x = (arrays.train_x.float() / 255 - NORMALIZE["mean"][0]) / NORMALIZE["std"][0]
    net = ConvNet(**NET)
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(steps):
        index = torch.randint(0, len(x), (64,))
        loss = torch.nn.functional.cross_entropy(net(x[index]), arrays.train_y[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return net.eval()


def write_digits_evaluator(folder: Path) -> Path:
    """Train and write `<folder>/digits.pt` + `digits.json`; returns the .pt path."""
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / "digits.pt"
    torch.save(train_digits_net().state_dict(), weights)
    meta = {
        "name": "digits",
        "file": weights.name,
        "sha256": sha256_file(weights),
        "net": NET,
        "normalize": NORMALIZE,
        "data": DATA,
        "features": {"layers": ["penultimate"], "layer_scales": [1.0]},
    }
    weights.with_suffix(".json").write_text(json.dumps(meta, indent=2))
    return weights
