"""cnngan checkpoints of tiny, untrained models for the 8x8 digits (no training needed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import hydra
import pytest
import torch
from omegaconf import DictConfig, OmegaConf

from tests.conftest import compose_config

DIGITS = [
    "data=digits",
    "data.val_size=200",
    "model.generator.width=8",
    "model.discriminator.width=8",
]


def tiny_checkpoint(path: Path, overrides: list[str], model_class: str) -> Path:
    """An untrained model of the composed train config, saved as cnngan-train saves one:
    model_from_checkpoint rebuilds it from the stored config exactly as it rebuilds a checkpoint of
    a training run."""
    cfg = compose_config("train", overrides, path.parent)
    torch.manual_seed(0)
    model = hydra.utils.instantiate(cfg.model)
    config = OmegaConf.to_container(cfg, resolve=True)
    config.pop("hydra")
    state = {"config": config, "model_class": model_class}
    torch.save({"state_dict": model.state_dict(), "cnngan": state}, path)
    return path


def tiny_gan_checkpoint(path: Path, conditional: bool = True) -> Path:
    overrides = ["experiment=augment_gan", *DIGITS, f"model.conditional={conditional}"]
    return tiny_checkpoint(path, overrides, "GAN")


def tiny_classifier_checkpoint(path: Path) -> Path:
    overrides = ["data=digits", "model.net.channels=[4,8]", "model.net.fc_dims=[16]"]
    return tiny_checkpoint(path, overrides, "ImageClassifier")


@pytest.fixture(scope="session")
def gan_ckpt(tmp_path_factory) -> Path:
    return tiny_gan_checkpoint(tmp_path_factory.mktemp("gan") / "cond.ckpt")


@pytest.fixture
def augment_classifier_cfg(make_cfg, gan_ckpt: Path) -> Callable[..., DictConfig]:
    """augment_classifier_cfg(lever, pool_per_class, *overrides): the train config of
    experiment=augment_classifier on 5 digits per class, with a synthetic pool of the tiny
    conditional GAN's samples."""

    def make(lever: str, pool_per_class: int, *overrides: str) -> DictConfig:
        return make_cfg(
            "train",
            [
                "experiment=augment_classifier",
                "data=digits",
                "data.val_size=200",
                "data.k_per_class=5",
                f"augment_lever={lever}",
                f"data.synthetic.ckpt_path={gan_ckpt}",
                f"data.synthetic.pool_per_class={pool_per_class}",
                *overrides,
            ],
        )

    return make
