"""Rebuild a LightningModule from the config stored in its checkpoint (instantiated through Hydra),
and `load_model`: the one place that refuses a checkpoint of the wrong kind of model, for every
command and config key that reads one (cnngan-eval, -predict, -sample, -inpaint, the augmentation
study's GAN and k-classifier)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import lightning as L

from cnngan.checkpoints.files import CheckpointError, checkpoint_config, load_checkpoint
from cnngan.core.errors import MissingInputError

M = TypeVar("M", bound=L.LightningModule)


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


def model_kind(cls: type | tuple[type, ...]) -> str:
    """How messages name a kind of model: its class's `checkpoint_kind` (e.g. "classifier"), else
    its class name (e.g. "GAN"); "classifier or GAN" for a tuple of classes."""
    if isinstance(cls, tuple):
        return " or ".join(model_kind(c) for c in cls)
    return getattr(cls, "checkpoint_kind", cls.__name__)


def load_model(
    path: str | Path | None,
    cls: type[M] | tuple[type[M], ...],
    needed_by: str,
    fix: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[M, dict[str, Any]]:
    """The model of checkpoint `path` (eval mode, on the CPU) and its run's config, when the file
    exists and holds a `cls` (a class or a tuple of them); otherwise one message naming the file,
    what needed it and the fix.

    needed_by: the command or config key that asked (e.g. "cnngan-sample",
        "data.synthetic.ckpt_path"); fix: where a checkpoint of the right kind comes from
        (default: the checkpoint folder of a cnngan-train run);
    overrides: entries merged into the stored model config first (see `model_from_checkpoint`).
    """
    wanted = model_kind(cls)
    fix = fix or f"pass the checkpoint of a {wanted} run (logs/train/runs/<run>/checkpoints/)"
    if not path or not Path(path).is_file():
        raise MissingInputError(
            f"checkpoint {path} does not exist; {needed_by} needs a {wanted} checkpoint: {fix}"
        )
    model, config = model_from_checkpoint(path, overrides)
    if not isinstance(model, cls):
        raise CheckpointError(
            f"{path} is a {model_kind(type(model))} checkpoint; {needed_by} needs a {wanted} "
            f"checkpoint: {fix}"
        )
    return model, config
