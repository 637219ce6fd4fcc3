"""Training options with a real Trainer and the real configs on the 8x8 digits: `train=false`
tests a checkpoint (one of another shape is refused, naming its settings),
`scheduler_interval=epoch` steps a schedule once per epoch, GAN gradients clipped by value,
`model.compile=true` refused with gradient penalties."""

from __future__ import annotations

from pathlib import Path

import hydra
import pytest
import torch

from cnngan.run.entry import run_entry
from cnngan.train import train
from tests.conftest import REPO_ROOT
from tests.fitting import fit_without_validation

LEGACY_CLASSIFIER = REPO_ROOT / "tests" / "fixtures" / "legacy" / "classifier_digits.ckpt"
QUIET = ["trainer.accelerator=cpu", "logger=csv", "callbacks.rich_progress_bar=null"]
# the legacy classifier's net: the ConvNet default before 2026-12-07
LEGACY_NET = ["model.net.channels=[16,32,64]"]
# a schedule that halves the learning rate at every step it takes
HALVING = "{_target_:torch.optim.lr_scheduler.StepLR,_partial_:true,step_size:1,gamma:0.5}"
GAN = [
    "experiment=gan_dcgan",
    "data=digits",
    "model.generator.width=16",
    "model.discriminator.width=16",
    "model.ema_decay=null",
    "trainer.max_time=null",
    "trainer.precision=32-true",
]


def test_train_false_only_tests_the_given_checkpoint(make_cfg) -> None:
    """The legacy classifier scores 82.45% on the digits test split (fixture README); untrained
    weights would score about 10%. Nothing is trained, so no checkpoint is written."""
    before = LEGACY_CLASSIFIER.read_bytes()
    cfg = make_cfg(
        "train",
        ["data=digits", "train=false", f"ckpt_path={LEGACY_CLASSIFIER}", *LEGACY_NET, *QUIET],
    )
    metrics = train(cfg)
    assert metrics["test/acc"] == pytest.approx(0.8245, abs=1e-3)
    assert not any(key.startswith("train/") for key in metrics)
    assert not list(Path(cfg.paths.output_dir).rglob("*.ckpt"))
    assert LEGACY_CLASSIFIER.read_bytes() == before


def test_a_checkpoint_of_another_shape_names_the_settings_it_was_trained_with(
    make_cfg, capsys: pytest.CaptureFixture
) -> None:
    """The legacy classifier was trained with the ConvNet default of its day (16-32-64): with
    today's default the command ends with exit status 2 and names the setting to pass."""
    before = LEGACY_CLASSIFIER.read_bytes()
    cfg = make_cfg("train", ["data=digits", "train=false", f"ckpt_path={LEGACY_CLASSIFIER}"])
    with pytest.raises(SystemExit) as ended:
        run_entry(cfg, train, command="cnngan-train")
    assert ended.value.code == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith(f"cnngan-train: error: checkpoint {LEGACY_CLASSIFIER} holds a model")
    assert "net.features.0.weight: [16, 1, 3, 3] in the checkpoint, [32, 1, 3, 3] here" in message
    assert "It was trained with model.net.channels=[16,32,64] (this run: [32,64,128])" in message
    assert "\n" not in message and LEGACY_CLASSIFIER.read_bytes() == before


@pytest.mark.parametrize(("interval", "halvings"), [("epoch", 3), ("step", 3 * 2)])
def test_the_classifier_steps_its_schedule_per_epoch_or_per_step(
    make_cfg, interval: str, halvings: int
) -> None:
    """3 epochs of 2 batches with a schedule that halves the rate at each of its steps."""
    scheduler = [
        "model.scheduler._target_=torch.optim.lr_scheduler.StepLR",
        "~model.scheduler.max_lr",
        "~model.scheduler.pct_start",
        "+model.scheduler.step_size=1",
        "+model.scheduler.gamma=0.5",
    ]
    overrides = ["data=digits", "trainer.max_epochs=3", "+trainer.limit_train_batches=2"]
    cfg = make_cfg("train", [*overrides, *scheduler, f"model.scheduler_interval={interval}"])
    trainer = fit_without_validation(cfg)
    lr = trainer.optimizers[0].param_groups[0]["lr"]
    assert lr == pytest.approx(cfg.model.optimizer.lr * 0.5**halvings, rel=1e-9)


@pytest.mark.parametrize(("interval", "halvings"), [("epoch", 2), ("step", 2 * 3)])
def test_the_gan_steps_its_schedules_per_epoch_or_per_iteration(
    make_cfg, interval: str, halvings: int
) -> None:
    """2 epochs of 3 iterations; both nets' schedules halve the rate at each of their steps."""
    overrides = [
        *GAN,
        "trainer.max_steps=-1",
        "trainer.max_epochs=2",
        "+trainer.limit_train_batches=3",
        f"model.g_scheduler={HALVING}",
        f"model.d_scheduler={HALVING}",
        f"model.scheduler_interval={interval}",
    ]
    cfg = make_cfg("train", overrides)
    trainer = fit_without_validation(cfg)
    g_opt, d_opt = trainer.optimizers
    g_lr, d_lr = cfg.model.g_optimizer.lr, cfg.model.d_optimizer.lr
    assert g_opt.param_groups[0]["lr"] == pytest.approx(g_lr * 0.5**halvings, rel=1e-9)
    assert d_opt.param_groups[0]["lr"] == pytest.approx(d_lr * 0.5**halvings, rel=1e-9)


def test_gan_gradients_clipped_by_value(make_cfg) -> None:
    """Plain SGD with learning rate 1: one iteration moves every parameter by exactly minus its
    (clipped) gradient, so no parameter moves by more than the clip value, and the largest
    gradients (larger than it without clipping) move by exactly that much."""
    sgd = [
        "model.g_optimizer._target_=torch.optim.SGD", "~model.g_optimizer.betas",
        "model.g_optimizer.lr=1.0",
        "model.d_optimizer._target_=torch.optim.SGD", "~model.d_optimizer.betas",
        "model.d_optimizer.lr=1.0",
        "trainer.max_steps=1",
    ]  # fmt: skip
    largest = {}
    for clip in (None, 1e-3):
        torch.manual_seed(0)
        clipping = [
            f"model.gradient_clip_val={clip or 'null'}",
            "model.gradient_clip_algorithm=value",
        ]
        cfg = make_cfg("train", [*GAN, *sgd, *clipping], subdir=f"clip{clip}")
        model = hydra.utils.instantiate(cfg.model)
        before = {k: v.detach().clone() for k, v in model.named_parameters()}
        fit_without_validation(cfg, model)
        for net in ("generator", "discriminator"):
            moves = [
                (p.detach() - before[k]).abs().max()
                for k, p in model.named_parameters()
                if k.startswith(f"{net}.")
            ]
            largest[clip, net] = float(torch.stack(moves).max())
    for net in ("generator", "discriminator"):
        assert largest[None, net] > 1e-2, net  # unclipped: some gradient is far above 1e-3
        assert largest[1e-3, net] == pytest.approx(1e-3, rel=1e-4), net


@pytest.mark.parametrize("penalty", ["model.r1_gamma=1.0", "model.gp_weight=10.0"])
def test_compile_is_refused_with_gradient_penalties(make_cfg, capsys, penalty: str) -> None:
    """One line naming the setting, exit status 2, before any data is loaded or trained."""
    overrides = [*GAN, "model.compile=true", penalty, "model.discriminator.norm=none", *QUIET]
    cfg = make_cfg("train", overrides)
    with pytest.raises(SystemExit) as exit_info:
        run_entry(cfg, train, command="cnngan-train")
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "model.compile=true cannot run gradient penalties" in err
    assert "Traceback" not in err
    assert not (Path(cfg.paths.output_dir) / "checkpoints").exists()
