"""Stop training at the first NaN or infinite loss, naming the step and the loss.

The check runs on what `training_step` returns (a loss tensor, or a dict of loss tensors such as
the GAN's d_loss / g_loss / r1 / gp) after every batch, before any checkpoint callback of that
batch (Lightning runs ModelCheckpoint callbacks last), and raises `NonFiniteLossError`. An
exception, unlike `trainer.should_stop`, ends `fit` at once: no end-of-epoch validation and no
checkpoint of the broken weights is written, so the last good checkpoint stays as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning as L
import torch

from cnngan.utils.rank import log


class NonFiniteLossError(RuntimeError):
    """A training loss became NaN or infinite."""


def loss_tensors(outputs: Any) -> dict[str, torch.Tensor]:
    """The scalar tensors of a training_step output: {'loss': t} or the dict's tensor values."""
    if isinstance(outputs, torch.Tensor):
        return {"loss": outputs}
    if isinstance(outputs, Mapping):
        return {
            str(k): v for k, v in outputs.items() if isinstance(v, torch.Tensor) and v.numel() == 1
        }
    return {}


def last_good_checkpoint(trainer: L.Trainer) -> str | None:
    for callback in trainer.checkpoint_callbacks:
        path = getattr(callback, "last_model_path", "") or getattr(callback, "best_model_path", "")
        if path:
            return path
    return None


class NonFiniteLossGuard(L.Callback):
    """Raise `NonFiniteLossError` when a loss returned by training_step is NaN or infinite.

    Args:
        check_every_n_batches: check every N-th batch (1 = every batch; each check is one device
            synchronization).
    """

    def __init__(self, check_every_n_batches: int = 1) -> None:
        super().__init__()
        if check_every_n_batches < 1:
            raise ValueError("check_every_n_batches must be at least 1")
        self.every = int(check_every_n_batches)

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if batch_idx % self.every:
            return
        losses = loss_tensors(outputs)
        if not losses:
            return
        values = torch.stack([v.detach().float().reshape(()) for v in losses.values()])
        finite = torch.isfinite(values)
        if bool(finite.all()):
            return
        bad = ", ".join(
            f"train/{name} = {float(v)}"
            for (name, v), ok in zip(losses.items(), finite.tolist(), strict=True)
            if not ok
        )
        iteration = int(getattr(pl_module, "iteration", trainer.global_step))
        checkpoint = last_good_checkpoint(trainer)
        message = (
            f"non-finite loss at training iteration {iteration} (epoch {trainer.current_epoch}, "
            f"batch {batch_idx}, global step {trainer.global_step}): {bad}. Training stopped; "
            + (
                f"the last good checkpoint is {checkpoint} (resume with ckpt_path={checkpoint}, "
                "e.g. with a lower learning rate or gradient clipping)."
                if checkpoint
                else "no checkpoint had been written yet."
            )
        )
        log.error(message)
        raise NonFiniteLossError(message)
