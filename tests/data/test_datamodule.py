from pathlib import Path

import hydra
import pytest
import torch

from cnngan.core.errors import UserError
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
    with pytest.raises(UserError, match=r"image_shape=\[1, 32, 32\].*\[1, 28, 28\]"):
        dm.setup("fit")


def test_unknown_dataset_name() -> None:
    with pytest.raises(UserError, match="unknown dataset"):
        ImageDataModule("imagenet", str(Path("/tmp")), [3, 224, 224], 1000)


def _epoch_batches(loader) -> list[torch.Tensor]:
    return [labels.clone() for _, labels in loader]


def test_training_order_is_a_function_of_seed_and_epoch() -> None:
    dm = _digits(shuffle_seed=3)
    dm.setup("fit")
    first, again = _epoch_batches(dm.train_dataloader()), _epoch_batches(dm.train_dataloader())
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    loader = dm.train_dataloader()
    loader.sampler.set_epoch(1)
    assert not torch.equal(torch.cat(first), torch.cat(_epoch_batches(loader)))
    other = _digits(shuffle_seed=4)
    other.setup("fit")
    assert not torch.equal(torch.cat(first), torch.cat(_epoch_batches(other.train_dataloader())))


def test_a_loader_resumes_with_the_next_batch_of_its_epoch() -> None:
    """The state after k batches, loaded into a fresh loader (a resumed run), gives batch k+1 of
    the same epoch's order next; the epoch after it is complete again."""
    dm = _digits(shuffle_seed=3)
    dm.setup("fit")
    loader = dm.train_dataloader()
    loader.sampler.set_epoch(2)
    full = _epoch_batches(loader)
    loader.sampler.set_epoch(2)
    batches = iter(loader)
    for _ in range(5):
        next(batches)
    state = loader.state_dict()
    assert state == {"seed": 3, "epoch": 2, "position": 5 * 32}
    fresh = dm.train_dataloader()
    fresh.load_state_dict(state)
    fresh.sampler.set_epoch(2)  # as Lightning does before the epoch (re)starts
    rest = _epoch_batches(fresh)
    assert len(rest) == len(full) - 5
    assert all(torch.equal(a, b) for a, b in zip(full[5:], rest, strict=True))
    assert fresh.state_dict()["position"] == len(full) * 32
    fresh.sampler.set_epoch(3)
    assert len(_epoch_batches(fresh)) == len(full) == len(fresh)


def test_ranks_get_disjoint_shards_of_one_order() -> None:
    from cnngan.data.sampler import ResumableSampler

    dataset = list(range(100))
    shards = [list(ResumableSampler(dataset, num_replicas=2, rank=r, seed=1)) for r in (0, 1)]
    assert len(shards[0]) == len(shards[1]) == 50
    assert sorted(shards[0] + shards[1]) == dataset


def test_building_loader_iterators_leaves_the_global_rng_alone() -> None:
    """Lightning rebuilds iterators at other moments in a resumed run than in the original one:
    they must not draw from the RNG that noise, dropout and augmentation use."""
    dm = _digits()
    dm.setup("fit")
    before = torch.get_rng_state()
    for loader in (dm.train_dataloader(), dm.val_dataloader()):
        next(iter(loader))
    assert torch.equal(before, torch.get_rng_state())
