"""Per-step training values are logged on the steps Lightning writes, and only there
(cnngan.models.step_logs): the loggers get each written step's own value, and the NaN guard
still sees every step's value."""

from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace

import hydra
import lightning as L
import pytest
import torch

from cnngan.models.step_logs import writes_step_logs


def _trainer(**kwargs) -> SimpleNamespace:
    defaults = {
        "fast_dev_run": False,
        "log_every_n_steps": 3,
        "max_steps": -1,
        "should_stop": False,
    }
    return SimpleNamespace(**(defaults | kwargs))


def test_written_steps_are_lightnings() -> None:
    every_third = [s for s in range(10) if writes_step_logs(_trainer(), s)]
    assert every_third == [2, 5, 8]
    assert [s for s in range(7) if writes_step_logs(_trainer(max_steps=7), s)] == [2, 5, 6]
    # a GAN iteration of 2 optimizer steps: max_steps=10 optimizer steps end at iteration 4
    assert writes_step_logs(_trainer(max_steps=10), 4, optimizer_steps_per_step=2)
    assert not writes_step_logs(_trainer(max_steps=10), 3, optimizer_steps_per_step=2)
    assert writes_step_logs(_trainer(should_stop=True), 0)
    assert writes_step_logs(_trainer(fast_dev_run=True, log_every_n_steps=0), 0)
    assert not any(writes_step_logs(_trainer(log_every_n_steps=0), s) for s in range(5))


class LossSpy(L.Callback):
    """The module's train/loss_step after every batch."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, *args) -> None:
        self.losses.append(float(pl_module.step_values["train/loss_step"]))


@pytest.mark.parametrize("accumulate", [1, 2])
def test_classifier_writes_each_logging_steps_own_loss(
    make_cfg, tmp_path: Path, accumulate: int
) -> None:
    """log_every_n_steps=3 over 7 optimizer steps: rows at steps 2 and 5 (Lightning writes the
    last step only when something stops the fit there), each with the loss of its own batch
    (with gradient accumulation: the last batch of its step)."""
    cfg = make_cfg("train", ["data=digits", "trainer.accelerator=cpu", "model.scheduler=null"])
    datamodule, model = hydra.utils.instantiate(cfg.data), hydra.utils.instantiate(cfg.model)
    logger = L.pytorch.loggers.CSVLogger(tmp_path / "csv")
    spy = LossSpy()
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=7,
        log_every_n_steps=3,
        accumulate_grad_batches=accumulate,
        limit_val_batches=0,
        logger=logger,
        callbacks=[spy],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, datamodule=datamodule)
    with (Path(logger.log_dir) / "metrics.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r.get("train/loss_step")]
    assert [int(r["step"]) for r in rows] == [2, 5]
    stepping_batches = [(step + 1) * accumulate - 1 for step in (2, 5)]
    expected = [spy.losses[b] for b in stepping_batches]
    assert [float(r["train/loss_step"]) for r in rows] == pytest.approx(expected, rel=1e-6)
    assert len(set(expected)) == 2 and len(spy.losses) == 7 * accumulate


def test_the_nan_guard_stops_a_gan_between_logging_steps(make_cfg) -> None:
    """log_every_n_steps=50: a NaN in iteration 2 stops the GAN at iteration 2."""
    from cnngan.callbacks.nan_guard import NonFiniteLossError, NonFiniteLossGuard
    from tests.models.test_gan_iterations import fit

    class PoisonD(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            if batch_idx == 1:
                with torch.no_grad():
                    next(pl_module.discriminator.parameters()).fill_(float("nan"))

    with pytest.raises(NonFiniteLossError, match=r"iteration 2 .*train/d_loss = nan"):
        fit(
            make_cfg,
            ["trainer.max_steps=20", "trainer.log_every_n_steps=50"],
            None,
            callbacks=[NonFiniteLossGuard(), PoisonD()],
        )
