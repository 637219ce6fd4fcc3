"""The training order of the augmentation study: exact draw counts per epoch, class balance of the
synthetic draws, and the pretrain lever seen from inside a real Trainer run."""

from __future__ import annotations

import hydra
import lightning as L
import pytest
import torch

from cnngan.apps.augment.sampler import MixingSampler, class_balanced_weights, pretrain_epochs
from cnngan.core.errors import UserError


def test_mix_epoch_draws_every_real_image_equally_often_plus_the_synthetic_share() -> None:
    synthetic_labels = torch.tensor([0] * 90 + [1] * 10)  # a filter left class 1 thin
    sampler = MixingSampler(30, synthetic_labels, real_per_epoch=100, ratio=2.0, seed=7)
    assert len(sampler) == 100 + 200
    drawn = sampler.plan(0)
    real, synthetic = drawn[drawn < 30], drawn[drawn >= 30]
    assert len(real) == 100 and len(synthetic) == 200
    counts = torch.bincount(real, minlength=30)
    assert counts.min() >= 3 and counts.max() <= 4  # three passes and a cut-short fourth
    share_class_1 = (synthetic_labels[synthetic - 30] == 1).float().mean().item()
    assert share_class_1 == pytest.approx(0.5, abs=0.1)  # balanced classes, not 10%
    assert torch.equal(drawn, sampler.plan(0)) and not torch.equal(drawn, sampler.plan(1))
    assert (drawn[:150] >= 30).any() and (drawn[150:] < 30).any()  # shuffled together


def test_class_balanced_weights_and_the_pretrain_split() -> None:
    weights = class_balanced_weights(torch.tensor([0, 0, 0, 2]))
    assert torch.allclose(weights, torch.tensor([1 / 6, 1 / 6, 1 / 6, 1 / 2], dtype=torch.float64))
    assert pretrain_epochs(20, 1.0) == 10 and pretrain_epochs(20, 0.25) == 4
    assert pretrain_epochs(3, 1.0) == 2 and pretrain_epochs(2, 0.01) == 1
    with pytest.raises(UserError, match="needs trainer.max_epochs >= 2"):
        pretrain_epochs(1, 1.0)


class ServedBatches(L.Callback):
    """Records, per epoch, the uint8 images of every training batch as the model receives it
    (the test's data config makes the on-device transform x / 255, so x * 255 undoes it)."""

    def __init__(self) -> None:
        self.batches: dict[int, list[torch.Tensor]] = {}

    def on_train_batch_start(self, trainer: L.Trainer, pl_module, batch, batch_idx: int) -> None:
        images = (batch[0].float() * 255).round().to(torch.uint8).cpu()
        self.batches.setdefault(trainer.current_epoch, []).append(images)


def test_pretrain_serves_only_synthetic_then_only_real_batches(augment_classifier_cfg) -> None:
    cfg = augment_classifier_cfg(
        "pretrain",
        4,
        "data.epoch_size=50",
        "data.batch_size=25",
        "data.augment=null",
        "data.normalize.mean=[0.0]",
        "data.normalize.std=[1.0]",
        "data.channels_last=false",
        "model.net.channels=[4,8]",
        "model.net.fc_dims=[16]",
    )
    datamodule = hydra.utils.instantiate(cfg.data)
    recorder = ServedBatches()
    trainer = L.Trainer(
        max_epochs=4,
        accelerator="cpu",
        logger=False,
        callbacks=[recorder],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        default_root_dir=str(cfg.paths.output_dir),
    )
    trainer.fit(hydra.utils.instantiate(cfg.model), datamodule=datamodule)
    pool = datamodule.train_set.images
    real = {bytes(x.numpy()) for x in pool[: datamodule.n_real]}
    synthetic = {bytes(x.numpy()) for x in pool[datamodule.n_real :]}
    assert not real & synthetic and len(synthetic) > 1
    kinds = {}
    for epoch, batches in recorder.batches.items():
        served = [bytes(x.numpy()) for x in torch.cat(batches)]
        assert len(served) == 100  # 50 real draws + 50 synthetic draws per epoch (ratio 1)
        kinds[epoch] = {
            "real" if s in real else "synthetic" if s in synthetic else "?" for s in served
        }
    # ratio 1 over 4 epochs: the first half synthetic only, the second half real only
    assert kinds == {0: {"synthetic"}, 1: {"synthetic"}, 2: {"real"}, 3: {"real"}}
