"""A GAN from a checkpoint, for everything that samples from one (cnngan-sample, cnngan-inpaint,
the augmentation data module): the one place that refuses a checkpoint that is not the GAN asked
for, with a message that names the file and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from cnngan.checkpoints.files import CheckpointError
from cnngan.checkpoints.model import model_from_checkpoint
from cnngan.core.device import resolve_device
from cnngan.models.gan.module import GAN


def load_gan(
    ckpt_path: str | Path,
    needed_by: str,
    device: str | torch.device = "cpu",
    conditional: bool = False,
) -> tuple[GAN, dict[str, Any]]:
    """The GAN stored in `ckpt_path` (eval mode, on `device`) and the run's config.

    `needed_by` names what asked for it (a command or a config key) in the error message;
    `conditional=True` also refuses an unconditional GAN.
    """
    model, config = model_from_checkpoint(ckpt_path)
    if not isinstance(model, GAN):
        raise CheckpointError(
            f"{ckpt_path} holds a model of class {type(model).__name__}, not a GAN; {needed_by} needs the "
            "checkpoint of a GAN run (e.g. cnngan-train experiment=gan_dcgan)"
        )
    if conditional and not model.hparams.conditional:
        raise CheckpointError(
            f"{ckpt_path} holds an unconditional GAN; {needed_by} needs a conditional one "
            "(trained with model.conditional=true, e.g. experiment=augment_gan)"
        )
    return model.to(resolve_device(device)), config
