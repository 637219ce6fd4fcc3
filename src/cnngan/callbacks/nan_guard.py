"""Stop training at the first NaN or infinite loss, naming the step and the loss.

The check reads the batch's training values after every batch, before any checkpoint callback of
that batch (Lightning runs ModelCheckpoint callbacks last): the module's `step_values` where it
has them (a classifier's train/loss_step, the GAN's train/d_loss, g_loss, r1, gp, ...; cnngan's
modules log per-step values only on the steps the loggers write, `cnngan.models.step_logs`), else
what the module logged (`trainer.callback_metrics`). A NaN or infinite value raises
`NonFiniteLossError`. An exception, unlike `trainer.should_stop`, ends `fit` at once: no
end-of-epoch validation and no checkpoint of the broken weights is written, so the last good
checkpoint stays as it was.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import lightning as L
import torch

from cnngan.core.iterations import training_iteration
from cnngan.core.rank import log

# Gradient norms are legitimately infinite on the steps that mixed precision's grad scaler skips.
SKIPPED_SUFFIXES = ("_grad_norm",)


class NonFiniteLossError(RuntimeError):
    """A training loss became NaN or infinite."""


def training_values(
    metrics: Mapping[str, Any], names: Sequence[str] | None = None
) -> dict[str, torch.Tensor]:
    """The scalar tensors among `metrics` to check: those named, or every `train/` value but the
    gradient norms."""
    if names is None:
        names = [k for k in metrics if k.startswith("train/") and not k.endswith(SKIPPED_SUFFIXES)]
    return {
        k: metrics[k]
        for k in names
        if isinstance(metrics.get(k), torch.Tensor) and metrics[k].numel() == 1
    }


def non_finite(values: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """The NaN or infinite ones among scalar tensors (one device synchronization)."""
    if not values:
        return {}
    stacked = torch.stack([v.detach().float().reshape(()) for v in values.values()])
    if bool(torch.isfinite(stacked).all()):
        return {}
    return {k: v for k, v in zip(values, stacked.tolist(), strict=True) if not math.isfinite(v)}


def last_good_checkpoint(trainer: L.Trainer) -> str | None:
    for callback in trainer.checkpoint_callbacks:
        path = getattr(callback, "last_model_path", "") or getattr(callback, "best_model_path", "")
        if path:
            return path
    return None


class NonFiniteLossGuard(L.Callback):
    """Raise `NonFiniteLossError` when a training value logged for a batch is NaN or infinite.

    Args:
        check_every_n_batches: check every N-th batch (1 = every batch; each check is one device
            synchronization).
        metrics: names of the logged values to check; null = every `train/` value but gradient
            norms.
    """

    def __init__(
        self, check_every_n_batches: int = 1, metrics: Sequence[str] | None = None
    ) -> None:
        super().__init__()
        if check_every_n_batches < 1:
            raise ValueError("check_every_n_batches must be at least 1")
        self.every = int(check_every_n_batches)
        self.metrics = list(metrics) if metrics is not None else None

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
        values = getattr(pl_module, "step_values", None) or trainer.callback_metrics
        bad = non_finite(training_values(values, self.metrics))
        if bad:
            message = self.message(trainer, pl_module, batch_idx, bad)
            log.error(message)
            raise NonFiniteLossError(message)

    @staticmethod
    def message(
        trainer: L.Trainer, pl_module: L.LightningModule, batch_idx: int, bad: dict[str, float]
    ) -> str:
        checkpoint = last_good_checkpoint(trainer)
        values = ", ".join(f"{name} = {value}" for name, value in bad.items())
        where = (
            f"training iteration {training_iteration(trainer, pl_module)} (epoch "
            f"{trainer.current_epoch}, batch {batch_idx}, global step {trainer.global_step})"
        )
        advice = (
            f"the last good checkpoint is {checkpoint} (resume with ckpt_path={checkpoint}, "
            "e.g. with a lower learning rate or gradient clipping)."
            if checkpoint
            else "no checkpoint had been written yet."
        )
        return f"non-finite loss at {where}: {values}. Training stopped; {advice}"
