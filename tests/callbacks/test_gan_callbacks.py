"""Sample grids (files + logger images), the NaN/inf guard, and cnngan-sample, on 8x8 digits."""

from __future__ import annotations

import hashlib
from pathlib import Path

import hydra
import lightning as L
import pytest
import torch
from torchvision.io import decode_image

from cnngan.callbacks.nan_guard import (
    NonFiniteLossError,
    NonFiniteLossGuard,
    non_finite,
    training_values,
)
from cnngan.callbacks.sample_grid import SampleGrid
from cnngan.core.iterations import optimizer_steps_per_iteration
from cnngan.run.instantiate import instantiate_list
from cnngan.sample import sample, slerp
from cnngan.train import train
from tests.conftest import compose_config

TINY = [
    "data=digits",
    "model.generator.width=16",
    "model.discriminator.width=16",
    "trainer.accelerator=cpu",
    "trainer.max_time=null",
    "trainer.max_steps=-1",
    "+trainer.limit_train_batches=2",
    "+trainer.limit_val_batches=1",
    "callbacks.rich_progress_bar=null",
    "callbacks.model_summary=null",
    "test=false",
]


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory) -> Path:
    """A conditional DCGAN trained for 2 iterations with TensorBoard and a grid every iteration."""
    out = tmp_path_factory.mktemp("cond_gan")
    cfg = compose_config(
        "train",
        [
            "experiment=gan_dcgan_cond",
            *TINY,
            "trainer.max_epochs=1",
            "logger=tensorboard",
            "callbacks.sample_grid.every_n_iterations=1",
        ],
        out,
    )
    train(cfg)
    return out


def test_sample_grid_files(cond_run: Path) -> None:
    samples = cond_run / "samples"
    assert sorted(p.name for p in samples.glob("*.png")) == [
        "final.png",
        "iter_000001.png",
        "iter_000002.png",
    ]
    grid = decode_image(str(samples / "final.png"))
    # 100 images of 8x8, 10 per row (one class per row), 2 px padding
    assert tuple(grid.shape) == (3, 102, 102)
    assert torch.equal(
        decode_image(str(samples / "final.png")), decode_image(str(samples / "iter_000002.png"))
    )
    assert not torch.equal(grid, decode_image(str(samples / "iter_000001.png")))  # G moved


def test_sample_grid_goes_to_tensorboard(cond_run: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = list((cond_run / "tensorboard").rglob("events.out.tfevents.*"))
    assert events
    acc = EventAccumulator(str(events[0].parent), size_guidance={"images": 0})
    acc.Reload()
    assert "samples/ema" in acc.Tags()["images"]
    # iterations 1, 2 and the final grid, at the steps Lightning logs those batches' curves at
    assert [image.step for image in acc.Images("samples/ema")] == [0, 1, 2]


def test_grid_rows_are_classes_and_noise_is_fixed(cond_run: Path) -> None:
    from cnngan.checkpoints.model import model_from_checkpoint

    model, _ = model_from_checkpoint(cond_run / "checkpoints" / "last.ckpt")
    callback = SampleGrid(num_samples=20, seed=3)
    nrow, labels = callback._layout(model)
    assert nrow == 10 and labels.tolist() == [i // 10 for i in range(20)]  # row r shows class r
    assert torch.equal(callback.render(model), callback.render(model))


def test_cnngan_sample_writes_grid_tensor_and_interpolation(cond_run: Path, tmp_path: Path) -> None:
    ckpt = cond_run / "checkpoints" / "last.ckpt"
    cfg = compose_config(
        "sample",
        [
            f"ckpt_path={ckpt}",
            "n=30",
            "interpolate=true",
            "interp_rows=3",
            "interp_steps=5",
            "device=cpu",
        ],
        tmp_path / "a",
    )
    paths = sample(cfg)
    assert {p.name for p in paths.values()} == {"samples.png", "samples.pt", "interpolation.png"}
    saved = torch.load(paths["tensor"], weights_only=True)
    images, labels = saved["images"], saved["labels"]
    assert images.shape == (30, 1, 8, 8) and images.dtype == torch.uint8
    assert labels.tolist() == [i // 10 % 10 for i in range(30)] and saved["use_ema"] is True
    assert tuple(decode_image(str(paths["interpolation"])).shape) == (3, 3 * 10 + 2, 5 * 10 + 2)
    # the same seed gives the same images; labels=7 gives class 7 only
    again = torch.load(
        sample(
            compose_config("sample", [f"ckpt_path={ckpt}", "n=30", "device=cpu"], tmp_path / "b")
        )["tensor"],
        weights_only=True,
    )
    assert torch.equal(again["images"], images)
    sevens = torch.load(
        sample(
            compose_config(
                "sample", [f"ckpt_path={ckpt}", "n=4", "labels=7", "device=cpu"], tmp_path / "c"
            )
        )["tensor"],
        weights_only=True,
    )
    assert sevens["labels"].tolist() == [7, 7, 7, 7]
    with pytest.raises(ValueError, match=r"class indices in \[0, 9\]"):
        sample(
            compose_config(
                "sample", [f"ckpt_path={ckpt}", "n=4", "labels=12", "device=cpu"], tmp_path / "d"
            )
        )


def test_slerp_keeps_the_ends_and_the_norm() -> None:
    a, b = torch.randn(4, 64), torch.randn(4, 64)
    path = slerp(a, b, torch.linspace(0, 1, 7))
    assert path.shape == (4, 7, 64)
    assert torch.allclose(path[:, 0], a, atol=1e-4) and torch.allclose(path[:, -1], b, atol=1e-4)
    unit = slerp(
        a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True), torch.linspace(0, 1, 7)
    )
    assert torch.allclose(unit.norm(dim=2), torch.ones(4, 7), atol=1e-4)


def test_guard_checks_the_logged_training_values() -> None:
    one, nan, inf = torch.tensor(1.0), torch.tensor(float("nan")), torch.tensor(float("-inf"))
    logged = {
        "train/d_loss": one,
        "train/g_loss": nan,
        "train/d_grad_norm": inf,  # skipped: inf on steps the AMP grad scaler skips
        "train/many": torch.ones(3),
        "val/d_loss": nan,  # not a training value
        "note": "x",
    }
    assert set(training_values(logged)) == {"train/d_loss", "train/g_loss"}
    assert set(training_values(logged, ["train/d_loss", "missing"])) == {"train/d_loss"}
    bad = non_finite(training_values(logged))
    assert list(bad) == ["train/g_loss"] and bad["train/g_loss"] != bad["train/g_loss"]  # NaN
    assert non_finite({"a": one, "b": inf}) == {"b": float("-inf")}
    assert non_finite({"a": one}) == {} and non_finite({}) == {}


class PoisonD(L.Callback):
    """Turns D's weights into NaN at the start of a given iteration (a diverged run), after noting
    the hash of last.ckpt at that moment."""

    def __init__(self, at_batch: int) -> None:
        self.at_batch, self.seen, self.last_hash = at_batch, 0, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.seen += 1
        if self.seen == self.at_batch:
            self.last_hash = hashlib.sha256(
                Path(trainer.checkpoint_callback.last_model_path).read_bytes()
            ).hexdigest()
            with torch.no_grad():
                pl_module.discriminator.head.weight.fill_(float("nan"))


def test_nan_guard_stops_at_once_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    cfg = compose_config(
        "train", ["experiment=gan_dcgan", *TINY, "trainer.max_epochs=3", "logger=csv"], tmp_path
    )
    datamodule, model = hydra.utils.instantiate(cfg.data), hydra.utils.instantiate(cfg.model)
    poison = PoisonD(at_batch=4)  # the second batch of the second epoch (2 batches per epoch)
    callbacks = instantiate_list(cfg.callbacks) + [poison]
    trainer = hydra.utils.instantiate(
        cfg.trainer,
        optimizer_steps_per_iteration=optimizer_steps_per_iteration(model),
        callbacks=callbacks,
        logger=False,
        enable_progress_bar=False,
    )
    with pytest.raises(
        NonFiniteLossError,
        match=r"iteration 4 \(epoch 1, batch 1, global step 8\): train/d_loss = nan.*last good checkpoint is .*last.ckpt",
    ) as err:
        trainer.fit(model, datamodule=datamodule)
    assert "train/g_loss = nan" in str(err.value)
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert hashlib.sha256(last.read_bytes()).hexdigest() == poison.last_hash  # not overwritten
    state = torch.load(last, weights_only=True)
    assert state["epoch"] == 0 and all(
        torch.isfinite(v).all() for v in state["state_dict"].values() if v.is_floating_point()
    )
    assert trainer.global_step == 8  # nothing ran after the bad iteration
    assert not (tmp_path / "samples" / "final.png").exists()


@pytest.mark.slow
def test_metrics_callback_scores_with_the_suite_of_the_config(tmp_path: Path) -> None:
    """callbacks=gan_best_fid on digits with a digits evaluator: the callback builds the suite of
    conf/metrics/suite/ (with its own overrides), logs val/* every epoch, keeps the best FID."""
    from cnngan.callbacks.gan_metrics import GanMetricsCallback
    from cnngan.metrics.suite import SCORE_KEYS
    from tests.metrics.digits_evaluator import write_digits_evaluator

    evaluator = write_digits_evaluator(tmp_path / "evaluator")
    cfg = compose_config(
        "train",
        [
            "experiment=gan_dcgan",
            *TINY,
            "trainer.max_epochs=2",
            "logger=csv",
            "callbacks=gan_best_fid",
            "callbacks.rich_progress_bar=null",
            "callbacks.model_summary=null",
            f"callbacks.gan_fid.evaluator={evaluator}",
            "callbacks.gan_fid.num_samples=100",
            "callbacks.gan_fid.suite.kid_subsets=3",
            "callbacks.gan_fid.suite.kid_subset_size=50",
            "callbacks.gan_fid.suite.pr_k=4",
        ],
        tmp_path / "run",
    )
    callback = hydra.utils.instantiate(cfg.callbacks.gan_fid)
    assert isinstance(callback, GanMetricsCallback)
    suite = callback.make_suite.keywords  # conf/metrics/suite/, gan_fid.yaml's and ours on top
    assert (suite["kid_subsets"], suite["pr_k"], suite["knn_max_samples"]) == (3, 4, 5000)
    metrics = train(cfg)
    scores = [metrics[f"val/{key}"] for key in SCORE_KEYS]
    assert all(torch.isfinite(torch.tensor(scores))) and metrics["val/fid"] > 0
    assert 1 <= metrics["val/modes_covered"] <= 10
    logged = (tmp_path / "run" / "csv").rglob("metrics.csv")
    header = next(logged).read_text().splitlines()[0].split(",")
    assert {f"val/{key}" for key in SCORE_KEYS} <= set(header)
    assert (tmp_path / "run" / "checkpoints" / "best-fid.ckpt").is_file()


class PoisonNet(L.Callback):
    """Turns the classifier's first weight into NaN before its second batch."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if batch_idx == 1:
            with torch.no_grad():
                next(pl_module.parameters()).fill_(float("nan"))


def test_nan_guard_reads_a_classifiers_logged_loss(tmp_path: Path) -> None:
    cfg = compose_config(
        "train",
        ["data=digits", "trainer.accelerator=cpu", "trainer.max_epochs=1", "logger=none"],
        tmp_path,
    )
    datamodule, model = hydra.utils.instantiate(cfg.data), hydra.utils.instantiate(cfg.model)
    trainer = hydra.utils.instantiate(
        cfg.trainer,
        callbacks=[NonFiniteLossGuard(), PoisonNet()],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        num_sanity_val_steps=0,
    )
    with pytest.raises(NonFiniteLossError, match=r"iteration 2 .*train/loss_step = nan") as err:
        trainer.fit(model, datamodule=datamodule)
    assert "no checkpoint had been written yet" in str(err.value)
    assert trainer.global_step == 2
