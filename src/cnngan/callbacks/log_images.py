"""Send images and figures to whichever loggers a trainer has (W&B, TensorBoard)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def _loggers(trainer: Any) -> list[Any]:
    return list(getattr(trainer, "loggers", []) or [])


def log_image(trainer: Any, key: str, image: torch.Tensor, step: int | None = None) -> None:
    """Log one (C, H, W) image with values in [0, 1] to every logger that takes images."""
    from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger

    step = trainer.global_step if step is None else step
    image = image.detach().float().cpu().clamp(0, 1)
    for logger in _loggers(trainer):
        if isinstance(logger, WandbLogger):
            array = (image.permute(1, 2, 0).numpy() * 255).astype(np.uint8)
            logger.log_image(
                key=key, images=[array.squeeze(-1) if array.shape[-1] == 1 else array], step=step
            )
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(key, image, global_step=step)
