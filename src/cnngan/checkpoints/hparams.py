"""Hyperparameters that checkpoints can hold under PyTorch's safe loader (`weights_only=True`)."""

from __future__ import annotations

from typing import Any


def to_plain_hparams(hparams: Any) -> None:
    """Turn OmegaConf containers inside saved hyperparameters into plain lists and dicts, so that
    checkpoints load with `torch.load(weights_only=True)`."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    for key, value in list(hparams.items()):
        if isinstance(value, DictConfig | ListConfig):
            hparams[key] = OmegaConf.to_container(value, resolve=True)
