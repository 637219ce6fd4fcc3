"""GAN data augmentation, the data module: k images per class, synthetic pool, pseudo-labels."""

from __future__ import annotations

import json
from pathlib import Path

import hydra
import numpy as np
import pytest
import torch

from cnngan.apps.augment.classify import classifier_probabilities, load_classifier
from cnngan.apps.augment.pool import sample_conditional_gan
from cnngan.apps.augment.study import (
    FewShotDataModule,
    parse_k,
    select_per_class,
)
from cnngan.checkpoints.files import CheckpointError
from cnngan.checkpoints.model import model_from_checkpoint
from cnngan.core.errors import MissingInputError, UserError
from cnngan.data.sources import ImageArrays
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
    with pytest.raises(ValueError, match="k_per_class='ten' must be a number >= 1 or 'all'"):
        parse_k("ten")


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
    dm = datamodule(
        k_per_class=5,
        epoch_size=400,
        synthetic={"ckpt_path": str(gan_ckpt), "ratio": 0.5, "pool_per_class": 7},
    )
    dm.setup("fit")
    assert (dm.n_real, dm.n_synthetic) == (50, 70)
    labels = dm.train_set.labels
    assert torch.equal(torch.bincount(labels[:50], minlength=10), torch.full((10,), 5))
    assert torch.equal(torch.bincount(labels[50:], minlength=10), torch.full((10,), 7))
    assert dm.train_set.images.dtype == torch.uint8 and dm.train_set.images.shape == (120, 1, 8, 8)
    loader = dm.train_dataloader()
    assert len(loader) == (400 + 200) // 50  # 400 real draws + 0.5 x 400 synthetic draws
    drawn = torch.tensor(list(iter(loader.sampler)))
    assert int((drawn >= 50).sum()) == 200
    assert len(dm.val_set) == 200 and len(dm.test_set) > 0  # validation and test stay real


def test_real_only_all_images_and_a_minimum_epoch() -> None:
    dm = datamodule(k_per_class="all")
    dm.setup("fit")
    assert dm.n_synthetic == 0 and dm.n_real == len(dm.train_set) == 1438 - 200
    assert len(dm.train_dataloader()) == (1438 - 200) // 50  # one pass per epoch
    small = datamodule(k_per_class=3, batch_size=128, min_epoch_size=64)
    small.setup("fit")
    assert len(small.train_set) == 30 and small.real_per_epoch == 64
    assert len(small.train_dataloader()) == 1  # one batch of 64, not zero batches of 128


def test_pseudo_labels_keep_the_labelled_images_and_predict_the_rest(tmp_path: Path) -> None:
    clf = tiny_classifier_checkpoint(tmp_path / "clf.ckpt")
    dm = datamodule(k_per_class=2, pseudo_label_ckpt=str(clf))
    dm.setup("fit")
    truth = datamodule(k_per_class="all")
    truth.setup("fit")
    images, true_labels = truth.train_set.images, truth.train_set.labels
    assert torch.equal(dm.train_set.images, images)  # every training image is kept
    labelled = select_per_class(true_labels, 2, 10, seed=0)
    model, transform = load_classifier(clf, "test")
    predicted = classifier_probabilities(model, transform, images).argmax(1)
    expected = predicted.clone()
    expected[labelled] = true_labels[labelled]
    assert torch.equal(dm.train_set.labels, expected)
    unlabelled = torch.ones(len(images), dtype=torch.bool)
    unlabelled[labelled] = False
    accuracy = (predicted[unlabelled] == true_labels[unlabelled]).float().mean().item()
    assert dm.info["pseudo_label_acc"] == pytest.approx(accuracy)


def test_pseudo_label_pool_is_the_unlabelled_images_with_predicted_labels(tmp_path: Path) -> None:
    """The control of gan_all: the pool is the real unlabelled images, k-classifier labels."""
    clf = str(tiny_classifier_checkpoint(tmp_path / "clf.ckpt"))
    pool = {"ckpt_path": clf, "source": "pseudo_labels", "ratio": 1.0}
    dm = datamodule(k_per_class=2, epoch_size=100, synthetic=pool)
    dm.setup("fit")
    truth = datamodule(k_per_class="all")
    truth.setup("fit")
    images, true_labels = truth.train_set.images, truth.train_set.labels
    labelled = select_per_class(true_labels, 2, 10, seed=0)
    unlabelled = torch.ones(len(images), dtype=torch.bool)
    unlabelled[labelled] = False
    assert (dm.n_real, dm.n_synthetic) == (20, len(images) - 20)
    assert torch.equal(dm.train_set.images[:20], images[labelled])
    assert torch.equal(dm.train_set.images[20:], images[unlabelled])  # no labelled image twice
    assert torch.equal(dm.train_set.labels[:20], true_labels[labelled])
    model, transform = load_classifier(clf, "test")
    predicted = classifier_probabilities(model, transform, images[unlabelled]).argmax(1)
    assert torch.equal(dm.train_set.labels[20:], predicted)
    accuracy = (predicted == true_labels[unlabelled]).float().mean().item()
    assert dm.info["pool_label_acc"] == pytest.approx(accuracy)
    drawn = torch.tensor(list(iter(dm.train_dataloader().sampler)))
    assert int((drawn >= 20).sum()) == 100  # ratio 1: as many pool draws as real draws
    with pytest.raises(ValueError, match="data.synthetic.source='gans'; choose one of"):
        datamodule(synthetic=pool | {"source": "gans"})
    with pytest.raises(UserError, match="needs unlabelled images.*k_per_class=all"):
        datamodule(k_per_class="all", synthetic=pool).setup("fit")


def test_a_copy_with_other_arrays_serves_them_whole(gan_ckpt: Path) -> None:
    """CAS trains on generated images through `with_arrays`: no k, no pool, no pseudo-labels."""
    dm = datamodule(k_per_class=2, synthetic={"ckpt_path": str(gan_ckpt), "ratio": 1.0})
    x = torch.randint(0, 256, (30, 1, 8, 8), dtype=torch.uint8)
    y = torch.arange(30) % 3  # only 3 images per class for 7 of them: k=2 would still fit
    copy = dm.with_arrays(ImageArrays(x, y, x, y), val_size=0)
    copy.setup("fit")
    assert torch.equal(copy.train_set.images, x) and copy.n_synthetic == 0
    assert len(copy.train_dataloader().sampler) == 30


def test_synthetic_needs_a_conditional_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ckpt_path"):
        datamodule(synthetic={"ratio": 1.0, "ckpt_path": None})
    missing = datamodule(k_per_class=2, synthetic={"ckpt_path": "nowhere.ckpt", "ratio": 1.0})
    with pytest.raises(MissingInputError, match=r"checkpoint nowhere.ckpt does not exist; data.sy"):
        missing.setup("fit")
    ckpt = tiny_gan_checkpoint(tmp_path / "uncond.ckpt", conditional=False)
    dm = datamodule(k_per_class=2, synthetic={"ckpt_path": str(ckpt), "ratio": 0.5})
    with pytest.raises(CheckpointError, match="unconditional GAN; data.synthetic.ckpt_path"):
        dm.setup("fit")
    clf = tiny_classifier_checkpoint(tmp_path / "clf.ckpt")
    dm = datamodule(k_per_class=2, synthetic={"ckpt_path": str(clf), "ratio": 0.5})
    with pytest.raises(CheckpointError, match="is a classifier checkpoint; data.synthetic.ckpt_pa"):
        dm.setup("fit")


@pytest.mark.parametrize(
    "override,message",
    [
        ("data.synthetic.mode=sideways", "data.synthetic.mode='sideways'; choose one of"),
        ("data.synthetic.ratio=-1", "data.synthetic.ratio=-1 must be >= 0"),
        ("data.synthetic.filter.by=magic", "filter.by='magic'; choose one of"),
        ("data.synthetic.filter.threshold=1.5", "threshold=1.5 must be a probability"),
        ("data.k_per_class=ten", "k_per_class='ten' must be a number >= 1 or 'all'"),
        ("data.synthetic.source=gans", "data.synthetic.source='gans'; choose one of"),
    ],
)
def test_a_bad_lever_value_is_one_line_naming_it(make_cfg, override: str, message: str) -> None:
    """What cnngan-train prints for it: the entry frame's one-line message (exit status 2)."""
    from cnngan.run.entry import one_line_error

    cfg = make_cfg("train", ["experiment=augment_classifier", "data=digits", override])
    with pytest.raises(Exception) as info:
        hydra.utils.instantiate(cfg.data)
    text, status = one_line_error(info.value, cfg)
    assert status == 2 and message in text and "\n" not in text


def test_augment_classifier_experiment_trains_with_synthetic_images(
    augment_classifier_cfg,
) -> None:
    from cnngan.train import train

    cfg = augment_classifier_cfg("ratio_05", 20, "data.min_epoch_size=256", "trainer.max_epochs=2")
    metrics = train(cfg)
    out = Path(cfg.paths.output_dir)
    info = json.loads((out / "augment_data.json").read_text())
    # 5 real images per class, a pool of 20 generated ones per class, 256 + 128 draws per epoch
    assert (info["n_real"], info["n_synthetic"], info["real_per_epoch"]) == (50, 200, 256)
    assert metrics["test/acc"] > 0 and np.isfinite(metrics["test/loss"])
    assert (out / "checkpoints" / "best.ckpt").is_file()  # the best val/acc epoch was tested
    assert not (out / "checkpoints" / "last.ckpt").exists()


def test_pseudo_label_lever_trains_on_the_pseudo_labelled_unlabelled_images(
    make_cfg, tmp_path: Path
) -> None:
    """augment_lever=pseudo_label as the study's grid composes it: the pool is read through
    augment_study.k_classifier_ckpt, no GAN is needed."""
    from cnngan.train import train

    clf = tiny_classifier_checkpoint(tmp_path / "k_classifier.ckpt")
    cfg = make_cfg(
        "train",
        [
            "experiment=augment_classifier",
            "data=digits",
            "data.val_size=200",
            "data.k_per_class=5",
            "augment_lever=pseudo_label",
            f"augment_study.k_classifier_ckpt={clf}",
            "augment_study.gan_ckpt=/nowhere/no-gan.ckpt",
            "data.min_epoch_size=256",
            "trainer.max_epochs=2",
        ],
    )
    metrics = train(cfg)
    info = json.loads((Path(cfg.paths.output_dir) / "augment_data.json").read_text())
    # 1,238 training images of the digits: 50 labelled, the other 1,188 pseudo-labelled
    assert (info["n_real"], info["n_synthetic"], info["ratio"]) == (50, 1188, 1.0)
    assert info["synthetic"]["source"] == "pseudo_labels" and 0 <= info["pool_label_acc"] <= 1
    assert metrics["test/acc"] > 0
