"""GAN data augmentation: k images per class, synthetic pool, mixing ratio, end-to-end run."""

from __future__ import annotations

from pathlib import Path

import hydra
import numpy as np
import pytest
import torch

from cnngan.apps.augment import (
    FewShotDataModule,
    mixing_weights,
    parse_k,
    sample_conditional_gan,
    select_per_class,
)
from cnngan.utils.checkpoint import CheckpointError, model_from_checkpoint
from cnngan.utils.errors import UserError
from tests.apps.conftest import tiny_classifier_checkpoint, tiny_gan_checkpoint


def datamodule(**kwargs) -> FewShotDataModule:
    base = dict(
        name="digits",
        data_dir="unused",
        image_shape=[1, 8, 8],
        num_classes=10,
        val_size=200,
        batch_size=50,
    )
    return FewShotDataModule(**(base | kwargs))


def test_select_per_class_takes_k_of_every_class_deterministically() -> None:
    labels = torch.arange(10).repeat(30)[
        torch.randperm(300, generator=torch.Generator().manual_seed(0))
    ]
    idx = select_per_class(labels, 7, 10, seed=3)
    assert torch.equal(torch.bincount(labels[idx], minlength=10), torch.full((10,), 7))
    assert torch.equal(idx, select_per_class(labels, 7, 10, seed=3))
    assert not torch.equal(idx, select_per_class(labels, 7, 10, seed=4))
    with pytest.raises(UserError, match="only 30 training images.*smaller k"):
        select_per_class(labels, 31, 10, seed=0)
    assert parse_k("all") is None and parse_k(None) is None and parse_k("10") == 10


@pytest.mark.parametrize("ratio", [0.25, 1.0, 3.0])
def test_mixing_weights_give_the_ratio(ratio: float) -> None:
    weights = mixing_weights(n_real=50, n_synthetic=700, ratio=ratio)
    assert weights.sum().item() == pytest.approx(1.0)
    draws = torch.multinomial(
        weights, 40000, replacement=True, generator=torch.Generator().manual_seed(0)
    )
    synthetic_share = (draws >= 50).float().mean().item()
    assert synthetic_share == pytest.approx(ratio / (1 + ratio), abs=0.01)
    assert torch.equal(mixing_weights(50, 700, 0.0)[50:], torch.zeros(700, dtype=torch.float64))


def test_synthetic_pool_is_the_gans_images_as_uint8(gan_ckpt: Path) -> None:
    images, labels = sample_conditional_gan(gan_ckpt, 3, 10, (1, 8, 8), seed=5)
    assert labels.tolist() == [c for c in range(10) for _ in range(3)]
    gan, _ = model_from_checkpoint(gan_ckpt)
    z = torch.randn(30, gan.hparams.latent_dim, generator=torch.Generator().manual_seed(5))
    expected = (gan.decode(z, labels) + 1) * 127.5  # [-1, 1] -> [0, 255], computed here
    assert images.dtype == torch.uint8
    assert (images.float() - expected).abs().max() <= 0.5 + 1e-4
    with pytest.raises(CheckpointError, match="the data has 7 of shape"):
        sample_conditional_gan(gan_ckpt, 3, 7, (1, 8, 8))


def test_few_shot_data_module_mixes_real_and_synthetic(gan_ckpt: Path) -> None:
    torch.manual_seed(0)
    dm = datamodule(
        k_per_class=5,
        epoch_size=4000,
        synthetic={"ckpt_path": str(gan_ckpt), "ratio": 1.0, "pool_per_class": 7},
    )
    dm.setup("fit")
    assert (dm.n_real, dm.n_synthetic) == (50, 70)
    labels = dm.train_set.labels
    assert torch.equal(torch.bincount(labels[:50], minlength=10), torch.full((10,), 5))
    assert torch.equal(torch.bincount(labels[50:], minlength=10), torch.full((10,), 7))
    assert dm.train_set.images.dtype == torch.uint8 and dm.train_set.images.shape == (120, 1, 8, 8)
    assert dm.is_synthetic.sum() == 70
    loader = dm.train_dataloader()
    assert len(loader) == 4000 // 50
    drawn = torch.tensor(list(iter(loader.sampler)))
    assert (drawn >= 50).float().mean().item() == pytest.approx(0.5, abs=0.03)
    assert len(dm.val_set) == 200 and len(dm.test_set) > 0  # validation and test stay real


def test_real_only_and_all_images() -> None:
    dm = datamodule(k_per_class="all")
    dm.setup("fit")
    assert dm.n_synthetic == 0 and dm.n_real == len(dm.train_set) == 1438 - 200
    small = datamodule(k_per_class=3, batch_size=128)
    small.setup("fit")
    loader = small.train_dataloader()
    assert len(small.train_set) == 30 and len(loader) == 1  # one batch of all 30, not zero batches


def test_synthetic_needs_a_conditional_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ckpt_path"):
        datamodule(synthetic={"ratio": 1.0, "ckpt_path": None})
    ckpt = tiny_gan_checkpoint(tmp_path / "uncond.ckpt", conditional=False)
    dm = datamodule(k_per_class=2, synthetic={"ckpt_path": str(ckpt), "ratio": 0.5})
    with pytest.raises(CheckpointError, match="unconditional GAN; data.synthetic.ckpt_path"):
        dm.setup("fit")
    clf = tiny_classifier_checkpoint(tmp_path / "clf.ckpt")
    dm = datamodule(k_per_class=2, synthetic={"ckpt_path": str(clf), "ratio": 0.5})
    with pytest.raises(CheckpointError, match="holds a model of class ImageClassifier, not a GAN"):
        dm.setup("fit")


@pytest.mark.slow
def test_augment_classifier_experiment_trains_with_synthetic_images(
    make_cfg, gan_ckpt: Path
) -> None:
    from cnngan.train import train

    cfg = make_cfg(
        "train",
        [
            "experiment=augment_classifier",
            "data=digits",
            "data.val_size=200",
            "data.k_per_class=5",
            "data.synthetic.ratio=1",
            f"data.synthetic.ckpt_path={gan_ckpt}",
            "data.synthetic.pool_per_class=20",
            "data.epoch_size=256",
            "trainer.max_epochs=1",
        ],
    )
    metrics = train(cfg)
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.setup("fit")
    # 5 real images per class, and a pool of 20 generated ones per class to draw from
    assert (datamodule.n_real, datamodule.n_synthetic) == (50, 200)
    assert metrics["test/acc"] > 0 and np.isfinite(metrics["test/loss"])
    assert (Path(cfg.paths.output_dir) / "checkpoints" / "last_epoch.ckpt").is_file()


def test_study_script_plans_the_grid(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    import augmentation_study

    augmentation_study.main(
        ["--k", "10", "all", "--seeds", "1", "2", "--dry-run", "--out", str(tmp_path)]
    )
    commands = (tmp_path / "commands.txt").read_text().splitlines()
    assert sum("experiment=augment_gan" in c for c in commands) == 2  # one GAN per k
    classifier_runs = [c for c in commands if "experiment=augment_classifier" in c]
    assert len(classifier_runs) == 2 * 2 * 2  # k x seeds x (real only, real + synthetic)
    assert sum("data.synthetic.ratio=0.0" in c for c in classifier_runs) == 4
    assert "| all |" in (tmp_path / "results.md").read_text()
