"""The `_target_` of every trainer config: Lightning's Trainer, with two settings decided before
Lightning sees them.

- `precision="auto"` is resolved for this machine (run/precision.py): Lightning has no "auto".
- `max_steps` / `min_steps` count training iterations (batches). A model that makes several
  optimizer steps per batch (the GAN: n_critic D steps + 1 G step) declares
  `optimizer_steps_per_iteration` (core/iterations.py); whoever builds its Trainer passes that
  count here and the budget is handed to Lightning, which counts optimizer steps, multiplied by
  it: `trainer.max_steps=5000` runs exactly 5000 batches whatever n_critic is. A Trainer built for
  another count refuses to fit the model (`IterationBudgetCheck`) instead of stopping early.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import lightning as L

from cnngan.core.device import drop_nvml_check_without_nvml
from cnngan.core.iterations import optimizer_steps_per_iteration as steps_of
from cnngan.core.rank import log
from cnngan.run.precision import choose_precision


def build_trainer(
    precision: str = "32-true",
    accelerator: str = "auto",
    optimizer_steps_per_iteration: int = 1,
    **kwargs: Any,
) -> L.Trainer:
    """`L.Trainer(**kwargs)` with `precision` resolved ("auto" -> bf16-mixed or 32-true, logged)
    and `max_steps` / `min_steps` (iterations) turned into optimizer steps for a model making
    `optimizer_steps_per_iteration` of them per batch (`optimizer_steps_per_iteration(model)`)."""
    drop_nvml_check_without_nvml()  # a CPU-only machine: ~45 us less per optimizer step
    steps = int(optimizer_steps_per_iteration)
    kwargs = budget_in_optimizer_steps(kwargs, steps)
    callbacks = [*as_callback_list(kwargs.pop("callbacks", None)), IterationBudgetCheck(steps)]
    return L.Trainer(
        precision=choose_precision(str(precision), str(accelerator)),
        accelerator=accelerator,
        callbacks=callbacks,
        **kwargs,
    )


def budget_in_optimizer_steps(kwargs: dict[str, Any], steps: int) -> dict[str, Any]:
    """Trainer arguments with `max_steps` (when > 0) and `min_steps` multiplied by `steps`."""
    if steps == 1:
        return kwargs
    kwargs = dict(kwargs)
    iterations = kwargs.get("max_steps")
    if iterations is not None and iterations > 0:
        kwargs["max_steps"] = iterations * steps
        log.info(
            "trainer.max_steps=%d counts iterations (batches); the model makes %d optimizer steps "
            "per iteration, so Lightning stops after %d optimizer steps.",
            iterations,
            steps,
            kwargs["max_steps"],
        )
    if kwargs.get("min_steps"):
        kwargs["min_steps"] = kwargs["min_steps"] * steps
    runs = kwargs.get("fast_dev_run")
    if not isinstance(runs, bool) and isinstance(runs, int) and runs > 1:
        log.warning(
            "trainer.fast_dev_run=%d counts optimizer steps (Lightning sets max_steps to it): "
            "with %d per iteration the model trains %d batches.",
            runs,
            steps,
            -(-runs // steps),
        )
    return kwargs


def as_callback_list(callbacks: L.Callback | Iterable[L.Callback] | None) -> list[L.Callback]:
    """The Trainer's `callbacks` argument (None, one callback or several) as a list."""
    if callbacks is None:
        return []
    return [callbacks] if isinstance(callbacks, L.Callback) else list(callbacks)


class IterationBudgetCheck(L.Callback):
    """Refuses to fit a model whose optimizer steps per iteration differ from the count the
    Trainer's budget was translated with: a GAN fitted by a Trainer built without its count would
    stop after max_steps / (n_critic + 1) batches without a word."""

    def __init__(self, optimizer_steps_per_iteration: int) -> None:
        self.steps = int(optimizer_steps_per_iteration)

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        needed = steps_of(pl_module)
        if stage == "fit" and needed != self.steps:
            raise RuntimeError(
                f"this Trainer counts {self.steps} optimizer step(s) per iteration but "
                f"{type(pl_module).__name__} makes {needed}: build it with "
                f"build_trainer(..., optimizer_steps_per_iteration={needed}), e.g. "
                "hydra.utils.instantiate(cfg.trainer, "
                "optimizer_steps_per_iteration=optimizer_steps_per_iteration(model))"
            )
