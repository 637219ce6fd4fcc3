from pathlib import Path

import hydra
import pytest
import torch

from cnngan.data import ImageDataModule
from cnngan.data.transforms import BatchTransform, random_crop, random_erasing, random_hflip


def _digits(**kwargs) -> ImageDataModule:
    return ImageDataModule("digits", "/tmp", [1, 8, 8], 10, val_size=200, batch_size=32, **kwargs)


def test_split_is_fixed_disjoint_and_repeatable() -> None:
    a, b = _digits(), _digits()
    a.setup("fit"), b.setup("validate")
    assert torch.equal(a.val_set.images, b.val_set.images)
    assert len(a.train_set) + len(a.val_set) == len(a.arrays.train_y)
    train = {bytes(x.numpy()) for x in a.train_set.images}
    # no validation image appears in training (digits has a few exact duplicates; allow those)
    overlap = sum(bytes(x.numpy()) in train for x in a.val_set.images)
    assert overlap <= 3
    c = _digits(split_seed=7)
    c.setup("fit")
    assert not torch.equal(a.val_set.images, c.val_set.images)


def test_batches_are_uint8_then_normalized_on_transfer() -> None:
    dm = _digits(normalize={"mean": [0.3], "std": [0.38]})
    dm.setup("fit")
    images, labels = next(iter(dm.train_dataloader()))
    assert (
        images.dtype == torch.uint8
        and images.shape == (32, 1, 8, 8)
        and labels.dtype == torch.int64
    )
    x, y = dm.on_after_batch_transfer((images, labels), 0)
    assert x.dtype == torch.float32 and torch.equal(y, labels)
    expected = (images.float() / 255 - 0.3) / 0.38
    assert torch.allclose(x, expected)


def test_gan_normalization_gives_minus_one_to_one() -> None:
    t = BatchTransform([0.5], [0.5])
    x = t(torch.tensor([0, 255], dtype=torch.uint8).view(2, 1, 1, 1))
    assert x.flatten().tolist() == [-1.0, 1.0]
    assert torch.allclose(t.denormalize(x), torch.tensor([0.0, 1.0]).view(2, 1, 1, 1))


def test_random_crop_shifts_content_and_keeps_shape() -> None:
    images = torch.zeros(64, 1, 8, 8, dtype=torch.uint8)
    images[:, :, 3:5, 3:5] = 255
    out = random_crop(images, padding=2, generator=torch.Generator().manual_seed(0))
    assert out.shape == images.shape and out.dtype == torch.uint8
    assert (out.sum(dim=(1, 2, 3)) == 4 * 255).all()  # a 2-pixel shift never cuts the centre square
    assert len({tuple(o.nonzero()[0].tolist()) for o in out}) > 5  # images get different shifts


def test_random_hflip_flips_about_half() -> None:
    images = torch.arange(8, dtype=torch.uint8).view(1, 1, 1, 8).repeat(200, 1, 1, 1)
    out = random_hflip(images, generator=torch.Generator().manual_seed(0))
    flipped = (out[:, 0, 0, 0] == 7).sum().item()
    assert 60 < flipped < 140
    assert all(torch.equal(o, images[0]) or torch.equal(o, images[0].flip(-1)) for o in out)


def test_random_erasing_fills_one_rectangle_in_about_p_of_the_images() -> None:
    images = torch.ones(1000, 1, 16, 16)
    out = random_erasing(images, p=0.5, generator=torch.Generator().manual_seed(0))
    erased = out == 0
    hit = erased.flatten(1).any(1)
    assert 400 < int(hit.sum()) < 600
    for mask in erased[hit][:50, 0]:  # each erased region is one filled rectangle
        rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
        box = mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        assert bool(box.all()) and int(mask.sum()) == box.numel()
    area = erased[hit].flatten(1).float().mean(1)
    assert float(area.min()) > 0 and float(area.max()) <= 0.4  # scale (0.02, 0.33), clipped
    assert torch.equal(random_erasing(images, p=0.0), images)


def test_erase_p_must_be_a_probability() -> None:
    with pytest.raises(ValueError, match="erase_p"):
        BatchTransform([0.5], [0.5], erase_p=1.5)


def test_augmentation_only_in_training() -> None:
    t = BatchTransform([0.5], [0.5], crop_padding=2, hflip=True, erase_p=0.5)
    images = torch.randint(0, 256, (16, 1, 8, 8), dtype=torch.uint8)
    assert torch.equal(t(images, train=False), t(images, train=False))
    assert not torch.equal(t(images, train=True), t(images, train=False))


@pytest.mark.usefixtures("require_fashion_mnist")
def test_fashion_mnist_from_config(make_cfg) -> None:
    cfg = make_cfg("train", [])
    dm = hydra.utils.instantiate(cfg.data)
    dm.prepare_data()
    dm.setup("fit")
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (55000, 5000, 10000)
    x, _ = dm.on_after_batch_transfer(next(iter(dm.val_dataloader())), 0)
    assert x.shape == (1000, 1, 28, 28)
    assert abs(float(x.mean())) < 0.1 and abs(float(x.std()) - 1) < 0.1  # normalized


@pytest.mark.usefixtures("require_fashion_mnist")
def test_wrong_image_shape_is_an_early_clear_error(make_cfg) -> None:
    cfg = make_cfg("train", ["data.image_shape=[1,32,32]"])
    dm = hydra.utils.instantiate(cfg.data)
    with pytest.raises(ValueError, match=r"image_shape=\[1, 32, 32\].*\[1, 28, 28\]"):
        dm.setup("fit")


def test_unknown_dataset_name() -> None:
    with pytest.raises(ValueError, match="unknown dataset"):
        ImageDataModule("imagenet", str(Path("/tmp")), [3, 224, 224], 1000)
