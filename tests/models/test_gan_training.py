"""cnngan-train with the GAN configs, in-process: every network x loss x conditional combination,
every GAN experiment, and resuming from a checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import pytest
import torch

from cnngan.checkpoints.model import model_from_checkpoint
from cnngan.models import GAN
from cnngan.models.gan.losses import LOSSES
from cnngan.train import train

NETWORKS = ["gan_dcgan", "gan_mlp"]
EXPERIMENTS = sorted(
    p.stem for p in (Path(__file__).parents[2] / "conf" / "experiment").glob("gan_*.yaml")
)


def fdr(make_cfg, overrides: list[str]) -> dict[str, float]:
    cfg = make_cfg(
        "train", ["data=digits", "debug=fdr", "trainer.max_time=null", "logger=none", *overrides]
    )
    return train(cfg)


@pytest.mark.parametrize("conditional", [False, True])
@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("network", NETWORKS)
def test_fast_dev_run_every_network_loss_and_conditioning(
    make_cfg, network: str, loss: str, conditional: bool
) -> None:
    extra = ["model.gp_weight=10", "model.n_critic=2"] if loss == "wasserstein" else []
    metrics = fdr(
        make_cfg,
        [
            "experiment=gan_dcgan",
            f"model={network}",
            f"model.loss={loss}",
            f"model.conditional={conditional}",
            *extra,
        ],
    )
    assert {"test/d_loss", "test/g_loss", "test/d_real", "test/d_fake"} <= set(metrics)
    assert all(torch.isfinite(torch.tensor(v)) for k, v in metrics.items() if k.startswith("test/"))


class SwitchProbe(L.Callback):
    """Keeps the trained module and the gradient norm each optimizer step applied (read after the
    step, so after clipping); added to a run by config, the last instance is `SwitchProbe.last`."""

    last: SwitchProbe | None = None

    def __init__(self) -> None:
        self.module: L.LightningModule | None = None
        self.applied_norms: list[float] = []
        SwitchProbe.last = self

    def on_train_start(self, trainer, pl_module) -> None:
        self.module = pl_module
        for optimizer in trainer.optimizers:
            optimizer.register_step_post_hook(self._record)

    def _record(self, optimizer, args, kwargs) -> None:
        grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        self.applied_norms.append(float(torch.nn.utils.get_total_norm(grads)))


def check_r1_and_diffaugment(module: GAN, metrics: dict[str, float], probe: SwitchProbe) -> None:
    assert metrics["train/r1"] > 0  # the penalty ran and was logged
    x = torch.rand(4, *module.hparams.image_shape) * 2 - 1
    assert not torch.equal(module.augment(x), x) and module.augment.names == [
        "color",
        "translation",
        "cutout",
    ]


def check_spectral_norm_and_projection(
    module: GAN, metrics: dict[str, float], probe: SwitchProbe
) -> None:
    from torch.nn.utils import parametrize

    kinds = (torch.nn.Linear, torch.nn.Conv2d, torch.nn.Embedding)
    layers = [m for m in module.discriminator.modules() if isinstance(m, kinds)]
    assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
    x = torch.rand(2, *module.hparams.image_shape) * 2 - 1
    with torch.no_grad():
        a = module.discriminator(x, torch.tensor([0, 0]))
        b = module.discriminator(x, torch.tensor([1, 1]))
    assert not torch.allclose(a, b)  # the projection reads the label
    assert module.loss_fn.name == "hinge"


def check_clip_and_no_ema(module: GAN, metrics: dict[str, float], probe: SwitchProbe) -> None:
    assert module.generator_ema is None and not any(
        k.startswith("generator_ema.") for k in module.state_dict()
    )
    # the logged norms are measured before clipping; the applied ones are clipped to 0.01
    assert metrics["train/d_grad_norm"] > 0.011 and metrics["train/g_grad_norm"] > 0.011
    assert probe.applied_norms and all(n <= 0.01 * (1 + 1e-4) for n in probe.applied_norms)


SWITCHES = {
    "r1+diffaugment": (
        ["model.r1_gamma=1", "model.diffaugment=[color,translation,cutout]"],
        check_r1_and_diffaugment,
    ),
    "spectral_norm+projection": (
        ["model.discriminator.spectral_norm=true", "model.loss=hinge", "model.conditional=true"],
        check_spectral_norm_and_projection,
    ),
    "clip+no_ema": (
        ["model.gradient_clip_val=0.01", "model.ema_decay=null"],
        check_clip_and_no_ema,
    ),
}


@pytest.mark.parametrize("switch", sorted(SWITCHES))
@pytest.mark.parametrize("network", NETWORKS)
def test_fast_dev_run_stability_switches(make_cfg, network: str, switch: str) -> None:
    overrides, check = SWITCHES[switch]
    probe_target = f"+callbacks.probe._target_={__name__}.SwitchProbe"
    metrics = fdr(make_cfg, ["experiment=gan_dcgan", f"model={network}", *overrides, probe_target])
    probe = SwitchProbe.last
    assert probe is not None and isinstance(probe.module, GAN)
    assert all(torch.isfinite(torch.tensor(v)) for k, v in metrics.items() if k.startswith("test/"))
    check(probe.module, metrics, probe)


def test_every_gan_experiment_is_covered() -> None:
    assert {"gan_dcgan", "gan_seed", "gan_dcgan_cond", "gan_wgan_gp"} <= set(EXPERIMENTS)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_fast_dev_run_every_gan_experiment(make_cfg, experiment: str) -> None:
    metrics = fdr(make_cfg, [f"experiment={experiment}"])
    assert "test/d_real" in metrics


RESUME = [
    "experiment=gan_dcgan",
    "data=digits",
    "model.generator.width=16",
    "model.discriminator.width=16",
    "model.ema_start=0",
    "model.diffaugment=[translation,cutout]",
    "trainer.accelerator=cpu",
    "trainer.max_time=null",
    "trainer.max_steps=-1",
    "+trainer.limit_train_batches=3",
    "+trainer.limit_val_batches=1",
    "logger=none",
    "test=false",
    "callbacks.rich_progress_bar=null",
    "callbacks.model_summary=null",
    "callbacks.sample_grid.every_n_iterations=2",
]


def load_state(run_dir: Path) -> dict:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)


@pytest.mark.slow
def test_resume_gives_the_weights_of_an_uninterrupted_run(make_cfg) -> None:
    straight = make_cfg("train", [*RESUME, "trainer.max_epochs=3"], subdir="straight")
    train(straight)
    first = make_cfg("train", [*RESUME, "trainer.max_epochs=1"], subdir="first")
    train(first)
    ckpt = Path(first.paths.output_dir) / "checkpoints" / "last.ckpt"
    second = make_cfg(
        "train", [*RESUME, "trainer.max_epochs=3", f"ckpt_path={ckpt}"], subdir="second"
    )
    train(second)

    a, b = load_state(Path(straight.paths.output_dir)), load_state(Path(second.paths.output_dir))
    assert a["global_step"] == b["global_step"] == 3 * 3 * 2  # 3 epochs x 3 batches x (D + G)
    assert a["state_dict"].keys() == b["state_dict"].keys()
    assert any(k.startswith("generator_ema.") for k in a["state_dict"])
    first_state = load_state(Path(first.paths.output_dir))["state_dict"]
    for key, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][key]), key
    assert any(
        not torch.equal(v, first_state[k]) for k, v in a["state_dict"].items()
    )  # it did train on
    for opt_a, opt_b in zip(a["optimizer_states"], b["optimizer_states"], strict=True):
        for state_a, state_b in zip(opt_a["state"].values(), opt_b["state"].values(), strict=True):
            assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    # the sample grids of the resumed run continue the iteration count
    samples = sorted(p.name for p in (Path(second.paths.output_dir) / "samples").glob("iter_*.png"))
    assert samples == ["iter_000004.png", "iter_000006.png", "iter_000008.png", "iter_000009.png"]


@pytest.mark.slow
def test_checkpoint_rebuilds_the_gan_with_its_ema(make_cfg) -> None:
    cfg = make_cfg("train", [*RESUME, "trainer.max_epochs=1", "model.conditional=true"])
    train(cfg)
    path = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    model, config = model_from_checkpoint(path)
    assert config["model"]["conditional"] is True and model.generator_ema is not None
    stored = load_state(Path(cfg.paths.output_dir))
    assert torch.equal(
        model.generator_ema.project.weight, stored["state_dict"]["generator_ema.project.weight"]
    )
    assert (
        len(stored["optimizer_states"]) == 2
        and stored["loops"]["fit_loop"]["epoch_loop.state_dict"]["_batches_that_stepped"] == 3
    )
    assert (
        json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())["val/d_real"]
        is not None
    )
