"""A cnngan checkpoint of a tiny, untrained DCGAN for the 8x8 digits (no training needed)."""

from __future__ import annotations

from pathlib import Path

import hydra
import pytest
import torch
from omegaconf import OmegaConf

from tests.conftest import compose_config

DIGITS = [
    "data=digits",
    "data.val_size=200",
    "model.generator.width=8",
    "model.discriminator.width=8",
]


def tiny_gan_checkpoint(path: Path, conditional: bool = True) -> Path:
    """Written directly: model_from_checkpoint rebuilds it from the stored config exactly as it
    rebuilds a checkpoint of a training run."""
    cfg = compose_config(
        "train",
        ["experiment=augment_gan", *DIGITS, f"model.conditional={conditional}"],
        path.parent,
    )
    torch.manual_seed(0)
    model = hydra.utils.instantiate(cfg.model)
    config = OmegaConf.to_container(cfg, resolve=True)
    config.pop("hydra")
    torch.save(
        {"state_dict": model.state_dict(), "cnngan": {"config": config, "model_class": "GAN"}}, path
    )
    return path


@pytest.fixture(scope="session")
def gan_ckpt(tmp_path_factory) -> Path:
    return tiny_gan_checkpoint(tmp_path_factory.mktemp("gan") / "cond.ckpt")
