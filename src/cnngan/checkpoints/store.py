"""Every checkpoint carries the run's resolved config, so that it rebuilds its model alone."""

from __future__ import annotations

from typing import Any

import lightning as L

from cnngan.checkpoints.files import CONFIG_KEY


class StoreConfigInCheckpoint(L.Callback):
    """Adds the run's resolved config (plain data) to every checkpoint."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint[CONFIG_KEY] = {"config": self.config, "model_class": type(pl_module).__name__}
