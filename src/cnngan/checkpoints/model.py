"""Rebuild a LightningModule from the config stored in its checkpoint (instantiated through Hydra)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L

from cnngan.checkpoints.files import CheckpointError, checkpoint_config, load_checkpoint


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
