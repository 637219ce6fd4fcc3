"""A fit of a composed train config, as the tests run it: the config's data, model (unless
given) and trainer, no logger, checkpoints, progress bar or validation."""

from __future__ import annotations

import hydra
import lightning as L
from omegaconf import DictConfig

from cnngan.core.iterations import optimizer_steps_per_iteration


def fit_without_validation(cfg: DictConfig, model: L.LightningModule | None = None) -> L.Trainer:
    """Instantiate a composed train config's data, model (unless given) and trainer, and fit
    (no validation); return the trainer."""
    model = model or hydra.utils.instantiate(cfg.model)
    trainer = hydra.utils.instantiate(
        cfg.trainer,
        optimizer_steps_per_iteration=optimizer_steps_per_iteration(model),  # GAN: n_critic + 1
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    trainer.fit(model, datamodule=hydra.utils.instantiate(cfg.data))
    return trainer
