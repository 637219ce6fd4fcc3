"""Send images and figures to whichever loggers a trainer has (W&B, TensorBoard)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def _loggers(trainer: Any) -> list[Any]:
    return list(getattr(trainer, "loggers", []) or [])


def _uint8_picture(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [0, 1] -> (H, W) or (H, W, C) uint8, rounded as the PNG files of the run
    folder are (torchvision's save_image)."""
    array = (image.permute(1, 2, 0) * 255 + 0.5).clamp(0, 255).to(torch.uint8).numpy()
    return array.squeeze(-1) if array.shape[-1] == 1 else array


def log_image(trainer: Any, key: str, image: torch.Tensor, step: int | None = None) -> None:
    """Log one (C, H, W) image with values in [0, 1] to every logger that takes images; MLflow
    gets it as the artifact `<key>/step_<step>.png`."""
    from lightning.pytorch.loggers import MLFlowLogger, TensorBoardLogger, WandbLogger

    step = trainer.global_step if step is None else step
    image = image.detach().float().cpu().clamp(0, 1)
    for logger in _loggers(trainer):
        if isinstance(logger, WandbLogger):
            logger.log_image(key=key, images=[_uint8_picture(image)], step=step)
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(key, image, global_step=step)
        elif isinstance(logger, MLFlowLogger):
            logger.experiment.log_image(
                logger.run_id, _uint8_picture(image), artifact_file=f"{key}/step_{step:06d}.png"
            )
