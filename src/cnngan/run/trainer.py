"""The `_target_` of every trainer config: Lightning's Trainer, with `precision="auto"` decided for
this machine (utils/precision.py) before Lightning sees it, since Lightning has no "auto"."""

from __future__ import annotations

from typing import Any

import lightning as L

from cnngan.run.precision import choose_precision


def build_trainer(
    precision: str = "32-true", accelerator: str = "auto", **kwargs: Any
) -> L.Trainer:
    """`L.Trainer(**kwargs)` with `precision` resolved ("auto" -> bf16-mixed or 32-true, logged)."""
    return L.Trainer(
        precision=choose_precision(str(precision), str(accelerator)),
        accelerator=accelerator,
        **kwargs,
    )
