"""The GAN's budget in iterations (batches), built into the Trainer by the run layer, and its
gradient norms, measured only on the iterations whose logged values reach the loggers."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import pytest
import torch

import cnngan.models.gan.grad_norms as grad_norms
from cnngan.core.iterations import optimizer_steps_per_iteration
from tests.models.test_gan import BASE, StepSpy


def fit(make_cfg, overrides: list[str], steps_per_iteration: int | None, **trainer: Any) -> Any:
    """Fit the small digits GAN; `steps_per_iteration` None = the model's own count."""
    cfg = make_cfg("train", BASE + overrides)
    datamodule = hydra.utils.instantiate(cfg.data)
    model = hydra.utils.instantiate(cfg.model)
    if steps_per_iteration is None:
        steps_per_iteration = optimizer_steps_per_iteration(model)
    built = hydra.utils.instantiate(
        cfg.trainer,
        optimizer_steps_per_iteration=steps_per_iteration,
        **{
            "logger": False,
            "enable_checkpointing": False,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "limit_val_batches": 0,
            **trainer,
        },
    )
    built.fit(model, datamodule=datamodule)
    return built, model


def test_a_trainer_built_for_another_count_refuses_to_fit(make_cfg) -> None:
    """Built without the GAN's count, the Trainer would stop after max_steps / 3 batches."""
    with pytest.raises(RuntimeError, match=r"counts 1 optimizer step\(s\) .* GAN makes 3"):
        fit(make_cfg, ["model.n_critic=2", "trainer.max_steps=3"], steps_per_iteration=1)


class StopEveryBatch(L.Callback):
    """Asks to stop after every batch, as early stopping would."""

    def __init__(self) -> None:
        self.batches = 0

    def on_train_batch_end(self, trainer, *args) -> None:
        self.batches += 1
        trainer.should_stop = True


def test_min_steps_counts_iterations(make_cfg) -> None:
    """min_steps=5 holds off a requested stop for 5 batches (15 optimizer steps with n_critic=2;
    Lightning also makes min_steps imply one whole epoch, here 2 batches)."""
    stopper = StopEveryBatch()
    overrides = [
        "model.n_critic=2",
        "trainer.max_steps=-1",
        "trainer.max_epochs=10",
        "+trainer.min_steps=5",
        "+trainer.limit_train_batches=2",
    ]
    trainer, model = fit(make_cfg, overrides, None, callbacks=[stopper])
    assert stopper.batches == 5 and model.iteration == 5 and trainer.global_step == 15


class StopAtMaxSteps(L.Callback):
    """Stops through `should_stop` when the budget is spent, as the GAN metrics callback does:
    Lightning then writes that last iteration's logged values, between two logging steps."""

    def on_train_batch_end(self, trainer, *args) -> None:
        if 0 < trainer.max_steps <= trainer.global_step:
            trainer.should_stop = True


def test_gradient_norms_are_measured_only_where_they_are_logged(
    make_cfg, monkeypatch, tmp_path: Path
) -> None:
    """log_every_n_steps=2 over 5 iterations: Lightning writes iterations 2 and 4 and the last
    (5), where it stops. The norms are measured in those three only, fresh in each row."""
    measured: list[torch.Tensor] = []

    def counting_norm(optimizer: torch.optim.Optimizer) -> torch.Tensor | None:
        norm = real_norm(optimizer)
        measured.append(norm)
        return norm

    real_norm = grad_norms.gradient_norm
    monkeypatch.setattr(grad_norms, "gradient_norm", counting_norm)
    logger = L.pytorch.loggers.CSVLogger(tmp_path / "csv")
    spy = StepSpy()
    trainer, _ = fit(
        make_cfg,
        ["trainer.max_steps=5", "trainer.log_every_n_steps=2"],
        None,
        logger=logger,
        callbacks=[StopAtMaxSteps(), spy],
    )
    assert spy.batches == 5 and len(measured) == 3 * 2  # 3 iterations x (D step + G step)
    with (Path(logger.log_dir) / "metrics.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["train/d_loss"]]
    assert [int(r["step"]) for r in rows] == [1, 3, 4]  # Lightning's step: iterations done - 1
    for net in ("d", "g"):
        logged = [float(r[f"train/{net}_grad_norm"]) for r in rows]
        assert all(v > 0 for v in logged) and len(set(logged)) == 3, logged  # none repeated
