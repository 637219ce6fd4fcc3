"""Optimizer and scheduler builders shared by the classifier and the GAN.

Configs give optimizers and schedulers as partials (`_partial_: true`); only the trainer knows
how many steps a schedule spans, so the builders fill that in.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

import lightning as L
import torch

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., Any]
INTERVALS = ("step", "epoch")


def build_scheduler(
    factory: SchedulerFactory, optimizer: torch.optim.Optimizer, total_steps: int
) -> Any:
    """Call a scheduler partial, filling in `total_steps` (e.g. OneCycleLR) or `T_max` (cosine)
    when the partial leaves them open: only the trainer knows them."""
    params = inspect.signature(factory.func if hasattr(factory, "func") else factory).parameters
    given = getattr(factory, "keywords", {})
    extra = {}
    if "total_steps" in params and given.get("total_steps") is None:
        extra["total_steps"] = total_steps
        extra |= one_step_warmup(given.get("pct_start", 0.3), total_steps)
    if "T_max" in params and given.get("T_max") is None:
        extra["T_max"] = total_steps
    return factory(optimizer, **extra)


def one_step_warmup(pct_start: float, total_steps: int) -> dict[str, float]:
    """OneCycleLR ends its warm-up at step pct_start * total_steps - 1 and divides by that: a
    warm-up of exactly one step (e.g. 0.2 x 5 steps, a CAS classifier on 100 real images) would
    divide by zero. Ending it a millionth of a step later keeps the schedule (step 0 at the
    initial rate, then the decay from the peak) without the division by zero."""
    if abs(total_steps * pct_start - 1.0) < 1e-9:
        return {"pct_start": (1.0 + 1e-6) / total_steps}
    return {}


def check_interval(interval: str) -> None:
    if interval not in INTERVALS:
        raise ValueError(f"scheduler_interval={interval!r}; choose 'step' or 'epoch'")


def schedule_length(
    trainer: L.Trainer, interval: str, optimizer_steps_per_iteration: int = 1
) -> int:
    """How often a scheduler steps in this fit: once per batch ("step") or per epoch.

    Lightning's `max_steps` counts optimizer steps; a model making several per batch (the GAN)
    has its batches capped at `max_steps // optimizer_steps_per_iteration`.
    """
    check_interval(interval)
    if interval == "epoch":
        return int(trainer.max_epochs)
    batches = trainer.estimated_stepping_batches
    if trainer.max_steps > 0:
        batches = min(batches, trainer.max_steps // optimizer_steps_per_iteration)
    return int(batches)


def scheduler_config(
    factory: SchedulerFactory,
    optimizer: torch.optim.Optimizer,
    trainer: L.Trainer,
    interval: str,
    name: str | None = None,
    optimizer_steps_per_iteration: int = 1,
) -> dict[str, Any]:
    """Lightning's scheduler dict for one optimizer, stepped once per batch or per epoch."""
    length = schedule_length(trainer, interval, optimizer_steps_per_iteration)
    scheduler = build_scheduler(factory, optimizer, length)
    config = {"scheduler": scheduler, "interval": interval}
    return config | ({"name": name} if name else {})


def step_schedulers(schedulers: Any) -> None:
    """Step what `LightningModule.lr_schedulers()` returns (None, one, or a list)."""
    if schedulers is None:
        return
    for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
        scheduler.step()


def params_with_grads(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    """The parameters of an optimizer that hold a gradient (what its next step would change)."""
    return [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]


def gradient_norm(optimizer: torch.optim.Optimizer) -> torch.Tensor | None:
    """The total 2-norm of the gradients an optimizer is about to apply (None without any)."""
    grads: Iterable[torch.Tensor] = [p.grad for p in params_with_grads(optimizer)]
    return torch.nn.utils.get_total_norm(grads).detach() if grads else None


def clip_gradients(optimizer: torch.optim.Optimizer, value: float, algorithm: str = "norm") -> None:
    """Clip the gradients an optimizer is about to apply, by total norm or by value.

    Used instead of `LightningModule.clip_gradients` where no loss scaler is involved (32-bit and
    bf16): Lightning's mixed-precision plugin refuses to clip for fused optimizers (they unscale
    fp16 gradients themselves), which would make `gradient_clip_val` fail under bf16-mixed.
    """
    params = params_with_grads(optimizer)
    if algorithm == "norm":
        torch.nn.utils.clip_grad_norm_(params, value)
    elif algorithm == "value":
        torch.nn.utils.clip_grad_value_(params, value)
    else:
        raise ValueError(f"gradient_clip_algorithm={algorithm!r}: use norm or value")


def clip_in_step(
    module: L.LightningModule, optimizer: torch.optim.Optimizer, value: float | None, algorithm: str
) -> None:
    """Clip a manual-optimization step's gradients (value None/0 = off): Lightning's way when an
    fp16 loss scaler is involved (it unscales first), else `clip_gradients` above."""
    if not value:
        return
    if str(module.trainer.precision).startswith("16"):
        module.clip_gradients(optimizer, value, gradient_clip_algorithm=algorithm)
    else:
        clip_gradients(optimizer, value, algorithm)
