"""The GAN LightningModule with a real Trainer and real Hydra configs, on the 8x8 digits."""

from __future__ import annotations

import json

import hydra
import lightning as L
import pytest
import torch

from cnngan.core.iterations import optimizer_steps_per_iteration
from cnngan.models import GAN

# small nets on the bundled 8x8 digits: every run here takes a second or two
BASE = [
    "experiment=gan_dcgan",
    "data=digits",
    "trainer.accelerator=cpu",
    "trainer.max_time=null",
    "model.generator.width=16",
    "model.discriminator.width=16",
]


class StepSpy(L.Callback):
    """Records, before every optimizer step, which net's optimizer steps, which nets hold
    gradients, and all parameters; and the parameters at the end of every batch."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, bool], dict[str, list[torch.Tensor]]]] = []
        self.batches = 0

    @staticmethod
    def _snapshot(module: GAN) -> dict[str, list[torch.Tensor]]:
        nets = {"g": module.generator, "d": module.discriminator}
        return {k: [p.detach().clone() for p in net.parameters()] for k, net in nets.items()}

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        which = "g" if optimizer is trainer.optimizers[0] else "d"
        has_grad = {
            k: any(p.grad is not None for p in net.parameters())
            for k, net in (("g", pl_module.generator), ("d", pl_module.discriminator))
        }
        self.events.append((which, has_grad, self._snapshot(pl_module)))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.batches += 1
        self.events.append(("end", {}, self._snapshot(pl_module)))


def build(
    make_cfg, overrides: list[str], callbacks: list[L.Callback]
) -> tuple[L.Trainer, GAN, L.LightningDataModule]:
    cfg = make_cfg("train", BASE + overrides)
    datamodule = hydra.utils.instantiate(cfg.data)
    model = hydra.utils.instantiate(cfg.model)
    trainer = hydra.utils.instantiate(
        cfg.trainer,
        optimizer_steps_per_iteration=optimizer_steps_per_iteration(model),
        callbacks=callbacks,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    return trainer, model, datamodule


def changed(before: list[torch.Tensor], after: list[torch.Tensor]) -> bool:
    return any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


@pytest.mark.parametrize(("n_critic", "reuse_fake"), [(1, False), (3, False), (1, True), (3, True)])
def test_each_step_updates_only_its_net_and_n_critic_is_honoured(
    make_cfg, n_critic: int, reuse_fake: bool
) -> None:
    spy = StepSpy()
    trainer, model, dm = build(
        make_cfg,
        [
            f"model.n_critic={n_critic}",
            f"model.reuse_fake={reuse_fake}",
            "trainer.max_steps=2",
            "model.ema_decay=null",
        ],
        [spy],
    )
    trainer.fit(model, datamodule=dm)
    kinds = [e[0] for e in spy.events]
    assert kinds == (["d"] * n_critic + ["g", "end"]) * 2
    for (kind, has_grad, before), (_, _, after) in zip(spy.events, spy.events[1:], strict=False):
        if kind == "end":
            continue
        other = "g" if kind == "d" else "d"
        assert has_grad[kind] and not has_grad[other], f"a {kind} step saw gradients of {other}"
        assert changed(before[kind], after[kind]), f"the {kind} step did not update {kind}"
        assert not changed(before[other], after[other]), f"the {kind} step changed {other}"


@pytest.mark.parametrize("n_critic", [1, 2])
def test_max_steps_counts_iterations(make_cfg, n_critic: int) -> None:
    """trainer.max_steps=5 runs 5 batches, although Lightning's global_step counts optimizer steps."""
    spy = StepSpy()
    trainer, model, dm = build(
        make_cfg, [f"model.n_critic={n_critic}", "trainer.max_steps=5"], [spy]
    )
    trainer.fit(model, datamodule=dm)
    assert spy.batches == 5
    assert trainer.global_step == 5 * (n_critic + 1)
    assert model.iteration == 5
    assert sum(e[0] == "d" for e in spy.events) == 5 * n_critic
    assert sum(e[0] == "g" for e in spy.events) == 5


@pytest.mark.parametrize("reuse_fake", [False, True])
def test_reuse_fake_feeds_the_generator_step_the_last_discriminator_steps_fakes(
    make_cfg, reuse_fake: bool
) -> None:
    """With reuse_fake, G runs once per iteration and its step scores the very fakes D's last step
    trained on (the PyTorch DCGAN example's scheme): n_critic generator forwards per iteration
    instead of n_critic + 1."""
    trainer, model, dm = build(
        make_cfg,
        ["model.n_critic=2", f"model.reuse_fake={reuse_fake}", "trainer.max_steps=1"],
        [],
    )
    g_calls: list[torch.Tensor] = []
    d_inputs: list[torch.Tensor] = []
    model.generator.register_forward_hook(lambda m, args, out: g_calls.append(out.detach()))
    model.discriminator.register_forward_hook(
        lambda m, args, out: d_inputs.append(args[0].detach())
    )
    trainer.fit(model, datamodule=dm)
    # D sees per D step: real, fake; then the G step's fake
    assert len(d_inputs) == 2 * 2 + 1
    last_d_fake, g_step_fake = d_inputs[3], d_inputs[4]
    assert len(g_calls) == (2 if reuse_fake else 3)
    assert torch.equal(last_d_fake, g_step_fake) == reuse_fake
    assert not torch.equal(d_inputs[1], g_step_fake)  # the first D step had fresh noise


def test_max_epochs_budget_is_unchanged(make_cfg) -> None:
    spy = StepSpy()
    trainer, model, dm = build(
        make_cfg,
        ["trainer.max_steps=-1", "trainer.max_epochs=2", "+trainer.limit_train_batches=3"],
        [spy],
    )
    trainer.fit(model, datamodule=dm)
    assert spy.batches == 6 and trainer.current_epoch == 2


def test_gradient_clipping_limits_each_update(make_cfg) -> None:
    """Plain SGD with lr 1: an update is exactly the (clipped) gradient."""
    sgd = [
        "model.g_optimizer._target_=torch.optim.SGD", "~model.g_optimizer.betas", "model.g_optimizer.lr=1.0",
        "model.d_optimizer._target_=torch.optim.SGD", "~model.d_optimizer.betas", "model.d_optimizer.lr=1.0",
        "trainer.max_steps=1",
        # bf16-mixed where the CPU has it: clipping works there too (Lightning's plugin refused)
        "trainer.precision=auto",
    ]  # fmt: skip
    steps = {}
    for clip in (None, 1e-3):
        spy = StepSpy()
        trainer, model, dm = build(
            make_cfg, [*sgd, f"model.gradient_clip_val={clip or 'null'}"], [spy]
        )
        trainer.fit(model, datamodule=dm)
        (_, _, d0), (_, _, d1), (_, _, end) = spy.events
        steps[clip] = {
            "d": torch.cat(
                [(b - a).flatten() for a, b in zip(d0["d"], d1["d"], strict=True)]
            ).norm(),
            "g": torch.cat(
                [(b - a).flatten() for a, b in zip(d1["g"], end["g"], strict=True)]
            ).norm(),
        }
    assert steps[None]["d"] > 1e-2 and steps[None]["g"] > 1e-2  # unclipped gradients are large
    assert steps[1e-3]["d"] == pytest.approx(1e-3, rel=1e-3) and steps[1e-3]["g"] == pytest.approx(
        1e-3, rel=1e-3
    )


def test_bf16_mixed_precision_with_r1(make_cfg) -> None:
    spy = StepSpy()
    overrides = [
        "trainer.precision=bf16-mixed",
        "trainer.max_steps=2",
        "model.r1_gamma=1.0",
        "model.diffaugment=translation",
    ]
    trainer, model, dm = build(make_cfg, overrides, [spy])
    trainer.fit(model, datamodule=dm)
    assert spy.batches == 2
    metrics = trainer.callback_metrics
    assert all(torch.isfinite(metrics[k]) for k in ("train/d_loss", "train/g_loss", "train/r1"))
    assert changed(spy.events[0][2]["d"], spy.events[-1][2]["d"])


def test_logs_every_quantity_per_step(make_cfg) -> None:
    trainer, model, dm = build(make_cfg, ["trainer.max_steps=2", "model.gp_weight=1.0"], [])
    trainer.fit(model, datamodule=dm)
    expected = {
        "train/d_loss",
        "train/g_loss",
        "train/d_real",
        "train/d_fake",
        "train/g_grad_norm",
        "train/d_grad_norm",
        "train/gp",
    }
    assert expected <= set(trainer.callback_metrics)
    assert (
        0 < float(trainer.callback_metrics["train/d_real"]) < 1
    )  # a probability for the sigmoid losses
    assert float(trainer.callback_metrics["train/g_grad_norm"]) > 0


class EMASpy(L.Callback):
    """The generator's and its EMA copy's parameters after every iteration."""

    def __init__(self) -> None:
        self.g: list[list[torch.Tensor]] = []
        self.ema: list[list[torch.Tensor]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.g.append([p.detach().clone() for p in pl_module.generator.parameters()])
        self.ema.append([p.detach().clone() for p in pl_module.generator_ema.parameters()])


def close(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.allclose(x, y, rtol=0, atol=1e-6) for x, y in zip(a, b, strict=True))


def test_ema_copies_up_to_ema_start_then_averages(make_cfg) -> None:
    """ema_start=2: iterations 1 and 2 copy G; then ema <- decay * ema + (1 - decay) * G, with an
    asymmetric decay so that swapping the two weights would fail."""
    decay, start, iterations = 0.75, 2, 4
    spy = EMASpy()
    overrides = [
        f"trainer.max_steps={iterations}",
        f"model.ema_decay={decay}",
        f"model.ema_start={start}",
    ]
    trainer, model, dm = build(make_cfg, overrides, [spy])
    trainer.fit(model, datamodule=dm)
    assert len(spy.g) == iterations
    for i in range(start):
        assert all(torch.equal(e, g) for e, g in zip(spy.ema[i], spy.g[i], strict=True))
    for i in range(start, iterations):
        previous, g = spy.ema[i - 1], spy.g[i]
        expected = [decay * e + (1 - decay) * p for e, p in zip(previous, g, strict=True)]
        swapped = [(1 - decay) * e + decay * p for e, p in zip(previous, g, strict=True)]
        assert close(spy.ema[i], expected), f"iteration {i + 1}"
        assert not close(spy.ema[i], swapped) and not close(spy.ema[i], g)
    assert all(not p.requires_grad for p in model.generator_ema.parameters())
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.generator.buffers(), model.generator_ema.buffers(), strict=True)
    )  # batch-norm statistics are copied, not averaged


def test_generate_interface(make_cfg) -> None:
    model: GAN = hydra.utils.instantiate(make_cfg("train", BASE + ["model.conditional=true"]).model)
    with torch.no_grad():  # make the EMA copy differ from the generator
        for p in model.generator_ema.parameters():
            p.add_(0.1)
    images = model.generate(25, generator=torch.Generator().manual_seed(0))
    assert (
        images.shape == (25, 1, 8, 8)
        and images.dtype == torch.float32
        and images.device.type == "cpu"
    )
    assert images.min() >= -1 and images.max() <= 1 and not images.requires_grad
    assert model.generator.training and model.generator_ema.training  # modes restored
    again = model.generate(25, generator=torch.Generator().manual_seed(0))
    assert torch.equal(images, again)
    plain = model.generate(25, use_ema=False, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(images, plain)
    z = torch.randn(25, 100, generator=torch.Generator().manual_seed(0))
    assert torch.equal(images, model.decode(z))  # generate = decode(the same noise)
    assert torch.equal(model.generator_labels(25), torch.arange(25) % 10)  # balanced by default
    three = model.generate(
        4, labels=torch.full((4,), 3), generator=torch.Generator().manual_seed(0)
    )
    assert not torch.allclose(three, images[:4])
    with pytest.raises(ValueError, match=r"labels must be in \[0, 9\]"):
        model.generate(2, labels=torch.tensor([0, 10]))
    unconditional: GAN = hydra.utils.instantiate(make_cfg("train", BASE).model)
    with pytest.raises(ValueError, match="unconditional"):
        unconditional.generate(2, labels=torch.tensor([0, 1]))
    assert unconditional.generate(3).shape == (3, 1, 8, 8)


def test_hparams_are_plain_data(make_cfg) -> None:
    model = hydra.utils.instantiate(make_cfg("train", ["experiment=gan_dcgan"]).model)
    hp = dict(model.hparams)
    json.dumps(hp)  # plain lists, numbers, strings
    assert hp["image_shape"] == [1, 28, 28] and hp["latent_dim"] == 100
    assert hp["num_classes"] == 10 and hp["conditional"] is False


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["model.conditional=true", "model.generator.conditional=false"],
            "model.generator.conditional=False but model.conditional=True",
        ),
        (
            ["data=fashion_mnist", "model.gp_weight=10", "model.discriminator.norm=batch"],
            "discriminator without batch norm",
        ),
        (
            ["data=fashion_mnist", "model.d_joint_batch=true"],
            "model.d_joint_batch=true needs a discriminator without batch norm",
        ),
        (["model.loss=bce"], "unknown GAN loss 'bce'"),
        (["model.n_critic=0"], "n_critic=0 must be at least 1"),
        (["model.diffaugment=flip"], "unknown DiffAugment policy"),
    ],
)
def test_bad_configs_are_named(make_cfg, overrides: list[str], message: str) -> None:
    cfg = make_cfg("train", BASE + overrides)
    with pytest.raises(Exception, match=message):
        hydra.utils.instantiate(cfg.model)


def test_real_images_outside_minus_one_one_are_refused(make_cfg) -> None:
    trainer, model, dm = build(
        make_cfg, ["trainer.max_steps=1", "data.normalize={mean:[0.3],std:[0.38]}"], []
    )
    with pytest.raises(ValueError, match="set data.normalize=minus_one_one"):
        trainer.fit(model, datamodule=dm)


def test_schedulers_step_once_per_iteration(make_cfg) -> None:
    """A cosine schedule whose T_max is filled in from the budget reaches its end exactly at the
    last iteration (T_max counts iterations, not Lightning's optimizer steps)."""
    cosine = ["_target_=torch.optim.lr_scheduler.CosineAnnealingLR", "_partial_=true"]
    overrides = [
        f"model.{net}_scheduler={{{','.join(x.replace('=', ':') for x in cosine)}}}"
        for net in ("g", "d")
    ]
    trainer, model, dm = build(make_cfg, [*overrides, "trainer.max_steps=4"], [])
    trainer.fit(model, datamodule=dm)
    schedulers = model.lr_schedulers()
    assert len(schedulers) == 2 and all(s.T_max == 4 and s.last_epoch == 4 for s in schedulers)
    assert all(
        group["lr"] == pytest.approx(0.0, abs=1e-12)
        for opt in trainer.optimizers
        for group in opt.param_groups
    )


class SlowBatches(L.Callback):
    def __init__(self) -> None:
        self.batches = 0

    def on_train_batch_end(self, *args) -> None:
        import time

        self.batches += 1
        time.sleep(0.3)


def test_max_time_stops_inside_the_first_epoch(make_cfg) -> None:
    """The GAN experiments set trainer.min_epochs=null: with Lightning's default min_epochs=1 a
    time limit would be ignored until the first epoch (859 batches on Fashion-MNIST) is over."""
    slow = SlowBatches()
    overrides = ["trainer.max_steps=-1", "trainer.max_time={seconds:1}"]
    trainer, model, dm = build(make_cfg, overrides, [slow])
    trainer.fit(model, datamodule=dm)
    assert 1 <= slow.batches < trainer.num_training_batches
