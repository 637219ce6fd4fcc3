"""The suite where it runs on Fashion-MNIST: GanMetricsCallback in a real Trainer (best checkpoint
by val/fid), and cnngan-eval on a GAN checkpoint and on sample files of another program."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image

from cnngan.callbacks.gan_metrics import GanMetricsCallback
from cnngan.core.errors import UserError
from cnngan.data import ImageDataModule
from cnngan.eval import evaluate
from cnngan.metrics.evaluator import read_metadata
from cnngan.metrics.suite import SCORE_KEYS, GanMetrics
from cnngan.train import train
from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("require_fashion_mnist")]


class ImageNoiseGAN(L.LightningModule):
    """A stand-in GAN: "generates" real validation images blended with noise whose weight
    is set per epoch, so FID is known to be best at the epoch with the least noise."""

    def __init__(self, bank: torch.Tensor, noise_by_epoch: list[float]) -> None:
        super().__init__()
        self.bank = bank
        self.noise_by_epoch = noise_by_epoch
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.hparams.update(conditional=False, num_classes=10)

    def training_step(self, batch, batch_idx):
        return (self.weight**2).sum() + 0 * batch[0].float().sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def generate(self, n, labels=None, use_ema=True, generator=None):
        index = torch.randint(0, len(self.bank), (n,), generator=generator, device=generator.device)
        images = self.bank[index.cpu()].float() / 127.5 - 1
        alpha = self.noise_by_epoch[self.current_epoch]
        noise = torch.rand(images.shape, generator=torch.Generator().manual_seed(n)) * 2 - 1
        return (1 - alpha) * images + alpha * noise


def stand_in_run(
    tmp_path: Path, noise_by_epoch: list[float], every_n_epochs: int
) -> tuple[ImageDataModule, ImageNoiseGAN, GanMetricsCallback, L.pytorch.callbacks.ModelCheckpoint]:
    """The stand-in GAN on 256 training images, a small metrics callback, a best-FID checkpoint."""
    dm = ImageDataModule(
        "fashion_mnist",
        str(REPO_ROOT / "data"),
        [1, 28, 28],
        10,
        val_size=600,
        train_subset=256,
        batch_size=64,
        download=False,
    )
    dm.setup()
    gan = ImageNoiseGAN(dm.train_set.images, noise_by_epoch=noise_by_epoch)
    fid = GanMetricsCallback(
        every_n_epochs=every_n_epochs,
        num_samples=300,
        batch_size=150,
        suite=partial(GanMetrics, kid_subset_size=300, kid_subsets=5),
    )
    ckpt = L.pytorch.callbacks.ModelCheckpoint(
        dirpath=tmp_path, filename="best-fid", monitor="val/fid", mode="min"
    )
    return dm, gan, fid, ckpt


def test_metrics_callback_logs_every_score_and_checkpoint_keeps_the_best_fid(
    tmp_path: Path,
) -> None:
    dm, gan, fid, ckpt = stand_in_run(tmp_path, [0.6, 0.1, 0.4], every_n_epochs=1)
    csv = L.pytorch.loggers.CSVLogger(tmp_path)
    trainer = L.Trainer(
        max_epochs=3,
        limit_train_batches=2,
        limit_val_batches=0,
        callbacks=[fid, ckpt],
        logger=csv,
        default_root_dir=tmp_path,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    trainer.fit(gan, datamodule=dm)
    history = [h["fid"] for h in fid.history]
    assert len(history) == 3 and history[1] < history[2] < history[0]
    assert torch.load(ckpt.best_model_path, weights_only=True)["epoch"] == 1
    assert float(ckpt.best_model_score) == pytest.approx(history[1], rel=1e-5)
    logged = (Path(csv.log_dir) / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {f"val/{k}" for k in SCORE_KEYS} <= set(logged)


def test_metrics_callback_scores_the_partial_epoch_where_the_step_budget_ends(
    tmp_path: Path,
) -> None:
    """max_steps=6 with 4 batches per epoch ends inside epoch 1; every_n_epochs=3 would never
    score it. The final weights (the least noisy here) are scored and kept as best-fid."""
    dm, gan, fid, ckpt = stand_in_run(tmp_path, [0.6, 0.1], every_n_epochs=3)
    trainer = L.Trainer(
        max_steps=6,
        max_epochs=10,
        limit_train_batches=4,
        limit_val_batches=0,
        callbacks=[fid, ckpt],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        default_root_dir=tmp_path,
    )
    trainer.fit(gan, datamodule=dm)
    assert trainer.global_step == 6
    assert [(h["epoch"], h["iteration"]) for h in fid.history] == [(1, 6)]
    assert torch.load(ckpt.best_model_path, weights_only=True)["global_step"] == 6
    written = json.loads((tmp_path / "gan_metrics_history.json").read_text())["scores"]
    assert written[0]["fid"] == pytest.approx(fid.history[0]["fid"]) and written[0]["time_s"] > 0


def test_metrics_callback_fails_before_training_without_an_evaluator(tmp_path: Path) -> None:
    dm = ImageDataModule(
        "fashion_mnist", str(REPO_ROOT / "data"), [1, 28, 28], 10, train_subset=64, download=False
    )
    gan = ImageNoiseGAN(torch.zeros(4, 1, 28, 28, dtype=torch.uint8), [0.0])
    trainer = L.Trainer(
        max_epochs=1,
        callbacks=[GanMetricsCallback(evaluator="nope")],
        logger=False,
        accelerator="cpu",
        enable_progress_bar=False,
    )
    from cnngan.metrics.evaluator import EvaluatorError

    with pytest.raises(EvaluatorError, match="make evaluator"):
        trainer.fit(gan, datamodule=dm)


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory) -> Path:
    """A DCGAN trained for a few iterations with the FID callback and the best-FID checkpoint."""
    from tests.conftest import compose_config

    out = tmp_path_factory.mktemp("gan")
    cfg = compose_config(
        "train",
        [
            "experiment=gan_dcgan_cond",
            "callbacks=gan_best_fid",
            "trainer.max_steps=-1",
            "trainer.max_epochs=1",
            "+trainer.limit_train_batches=5",
            "+trainer.limit_val_batches=1",
            "callbacks.rich_progress_bar=null",
            "callbacks.gan_fid.num_samples=300",
            "callbacks.gan_fid.suite.kid_subset_size=300",
            "callbacks.gan_fid.suite.kid_subsets=5",
            "data.val_size=500",
            "test=false",
            "trainer.accelerator=cpu",
            "model.generator.width=16",
            "model.discriminator.width=16",
        ],
        out,
    )
    metrics = train(cfg)
    assert "val/fid" in metrics and metrics["val/fid"] > 0
    return out


def test_eval_scores_a_gan_checkpoint(gan_run: Path, make_cfg) -> None:
    ckpt = gan_run / "checkpoints" / "best-fid.ckpt"
    assert ckpt.is_file()
    cfg = make_cfg(
        "eval",
        [
            f"ckpt_path={ckpt}",
            "metrics.num_samples=400",
            "metrics.suite.kid_subset_size=400",
            "metrics.suite.kid_subsets=10",
        ],
        subdir="eval",
    )
    result = evaluate(cfg)
    saved = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())
    assert set(SCORE_KEYS) <= set(saved) and saved["fid"] == pytest.approx(result["fid"])
    assert saved == result  # one flat shape: scores, then the protocol under protocol/<key>
    assert saved["protocol/evaluator_sha256"] == read_metadata("fashion_mnist")["sha256"]
    measured = (saved["protocol/reference"], saved["protocol/n_real"], saved["protocol/n_fake"])
    assert measured == ("test", 400, 400)
    assert sum(saved[f"mode_counts/{c}"] for c in range(10)) == 400
    assert saved["fid"] > 10  # 5 iterations of a tiny GAN: far from the data


def test_eval_cas_of_a_conditional_gan(gan_run: Path, make_cfg) -> None:
    ckpt = gan_run / "checkpoints" / "best-fid.ckpt"
    overrides = [
        f"ckpt_path={ckpt}",
        "metrics.num_samples=200",
        "metrics.suite.kid_subset_size=200",
        "metrics.suite.kid_subsets=2",
        "metrics.cas.enabled=true",
        "metrics.cas.num_train=1000",
        "metrics.cas.epochs=2",
    ]
    result = evaluate(make_cfg("eval", overrides, subdir="cas"))
    assert result["cas_num_train"] == 1000 and result["cas_epochs"] == 2
    # 14 steps on 1000 real images reach far above chance (0.1); the samples of a GAN trained
    # for 5 iterations teach (almost) nothing
    assert result["cas_real_acc"] > 0.4 and result["cas_real_acc"] > result["cas_acc"] + 0.15


def _real_test_images(n: int) -> torch.Tensor:
    dm = ImageDataModule("fashion_mnist", str(REPO_ROOT / "data"), [1, 28, 28], 10, download=False)
    dm.setup()
    return dm.test_set.images[-n:]


def _write_samples(images: torch.Tensor, form: str, folder: Path) -> Path:
    """The same uint8 images as another program might write them."""
    if form == "pt_symmetric":
        torch.save({"images": images.float() / 127.5 - 1}, folder / "samples.pt")
        return folder / "samples.pt"
    if form == "npy_nhwc_uint8":
        np.save(folder / "samples.npy", images.permute(0, 2, 3, 1).numpy())
        return folder / "samples.npy"
    (folder / "pngs").mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image[0].numpy()).save(folder / "pngs" / f"{i:04d}.png")
    return folder / "pngs"


def test_sample_file_formats_score_alike(tmp_path: Path, make_cfg) -> None:
    """The same 300 real test images as a [-1, 1] float .pt, an NHWC uint8 .npy and a PNG folder
    score alike."""
    images = _real_test_images(300)
    results = {}
    for form in ("pt_symmetric", "npy_nhwc_uint8", "png_folder"):
        path = _write_samples(images, form, tmp_path)
        overrides = [
            f"samples_path={path}",
            "metrics.num_samples=300",
            "metrics.suite.kid_subset_size=300",
            "metrics.suite.kid_subsets=10",
        ]
        results[form] = evaluate(make_cfg("eval", overrides, subdir=form))
        assert results[form]["protocol/n_fake"] == 300
        assert results[form]["protocol/source"] == str(path)
    npy = results["npy_nhwc_uint8"]
    for key in SCORE_KEYS:
        # float pixels differ from uint8 / 255 by rounding, and memory layouts change the float
        # summation order: FID/KID/IS move in the 6th digit at most, and a k-NN membership of
        # an image that is also in the reference may flip (1 of 300)
        knn = key in ("precision", "recall", "density", "coverage")
        tolerance = {"abs": 1 / 300} if knn else {"rel": 1e-4, "abs": 1e-6}
        for form in ("png_folder", "pt_symmetric"):
            assert results[form][key] == pytest.approx(npy[key], **tolerance), (form, key)
    # real test images against the test split: far better than noise
    assert npy["fid"] < 30 and npy["modes_covered"] == 10 and npy["precision"] > 0.6


def test_truncation_of_finished_sample_files_is_refused(tmp_path: Path, make_cfg) -> None:
    """metrics.truncation draws a checkpoint's latents; image files have none to truncate."""
    path = _write_samples(_real_test_images(20), "pt_symmetric", tmp_path)
    overrides = [f"samples_path={path}", "metrics.truncation=1.0"]
    with pytest.raises(UserError, match=r"metrics.truncation=1.0 .* drop metrics.truncation"):
        evaluate(make_cfg("eval", overrides))


def test_eval_without_checkpoint_or_samples_explains(make_cfg) -> None:
    with pytest.raises(UserError, match="samples_path"):
        evaluate(make_cfg("eval", []))
