"""Checkpoints that load with PyTorch's safe loader and rebuild their model from plain data.

Every checkpoint written by `cnngan-train` holds, besides Lightning's usual state, the run's
resolved config under the key `cnngan` (plain dicts, lists, strings and numbers only).
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch

from cnngan.utils.errors import UserError

CONFIG_KEY = "cnngan"


class CheckpointError(UserError, ValueError):
    """A file that is missing, unreadable or not a cnngan checkpoint."""


def to_plain_hparams(hparams: Any) -> None:
    """Turn OmegaConf containers inside saved hyperparameters into plain lists and dicts, so that
    checkpoints load with `torch.load(weights_only=True)`."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    for key, value in list(hparams.items()):
        if isinstance(value, DictConfig | ListConfig):
            hparams[key] = OmegaConf.to_container(value, resolve=True)


class StoreConfigInCheckpoint(L.Callback):
    """Adds the run's resolved config (plain data) to every checkpoint."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint[CONFIG_KEY] = {"config": self.config, "model_class": type(pl_module).__name__}


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a cnngan checkpoint with `weights_only=True`, or explain what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {path} does not exist; pass ckpt_path=<a .ckpt file from logs/.../checkpoints/>"
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        if found is None:
            raise _unreadable(path, err, detail="not a valid pickle stream") from None
        raise CheckpointError(
            f"cannot read checkpoint {path}: it holds pickled Python objects ({found.group(1)}), not "
            "only weights and "
            "plain data, and loading such a file can run code, so cnngan refuses it. Use a "
            "checkpoint written by cnngan-train (checkpoints/last.ckpt or best.ckpt of a run) "
            "from a source you trust."
        ) from None
    except Exception as err:
        raise _unreadable(path, err) from None
    if (
        not isinstance(checkpoint, dict)
        or CONFIG_KEY not in checkpoint
        or "state_dict" not in checkpoint
    ):
        raise CheckpointError(
            f"{path} is a PyTorch file but not a cnngan checkpoint (no '{CONFIG_KEY}' config "
            "inside); use a checkpoint written by cnngan-train."
        )
    return checkpoint


def _unreadable(path: Path, err: Exception, detail: str | None = None) -> CheckpointError:
    detail = detail or (str(err).splitlines() or [""])[0]
    return CheckpointError(
        f"cannot read checkpoint {path} ({type(err).__name__}: {detail}). "
        "The file is truncated, corrupt or not a PyTorch checkpoint; pick another one "
        "(checkpoints/last.ckpt or best.ckpt of a finished run)."
    )


def checkpoint_config(checkpoint: dict[str, Any]) -> dict[str, Any]:
    return checkpoint[CONFIG_KEY]["config"]


def stored_data_config(
    stored: Mapping[str, Any], data_dir: str, overrides: Mapping[str, Any] | None = None
) -> Any:
    """The data config of a checkpoint's run (`stored`: its config), pointed at this run's
    `data_dir`, with `overrides` (e.g. `+data.eval_batch_size=...`) merged on top."""
    from omegaconf import OmegaConf

    data = OmegaConf.create(dict(stored["data"]))
    data.data_dir = data_dir
    return OmegaConf.merge(data, overrides or {})


def model_from_checkpoint(
    path: str | Path, overrides: Mapping[str, Any] | None = None
) -> tuple[L.LightningModule, dict[str, Any]]:
    """Rebuild the LightningModule from the config stored in the checkpoint and load its weights.

    `overrides` are merged into the stored model config first (e.g. {"tta_hflip": True}); an
    override that changes the architecture fails at weight loading.
    """
    import hydra
    from omegaconf import OmegaConf

    checkpoint = load_checkpoint(path)
    config = checkpoint_config(checkpoint)
    model_config = OmegaConf.create(config["model"])
    if overrides:
        model_config = OmegaConf.merge(model_config, overrides)
        config = {**config, "model": OmegaConf.to_container(model_config, resolve=True)}
    model = hydra.utils.instantiate(model_config)
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as err:
        if not overrides:
            raise
        raise CheckpointError(
            f"model overrides {dict(overrides)} do not fit the weights in {path}: only switches "
            f"that keep the architecture (e.g. model.tta_hflip) can be changed ({err})"
        ) from err
    model.eval()
    return model, config
