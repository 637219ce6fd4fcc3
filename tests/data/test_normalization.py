"""`data.normalize`: named ranges, explicit statistics, the old `null`, and clear refusals."""

from __future__ import annotations

from pathlib import Path

import hydra
import pytest
import torch
from hydra.errors import InstantiationException

from cnngan.checkpoints.files import checkpoint_config, load_checkpoint
from cnngan.checkpoints.model import stored_data_config
from cnngan.data import ImageDataModule
from cnngan.data.normalization import normalization_stats

LEGACY_GAN = Path(__file__).parents[1] / "fixtures" / "legacy" / "gan_dcgan_digits.ckpt"
BLACK_AND_WHITE = torch.tensor([0, 255], dtype=torch.uint8).view(2, 1, 1, 1).expand(2, 3, 1, 1)


def pixel_range(dm: ImageDataModule) -> list[float]:
    """What a black and a white pixel become in every channel."""
    x = dm.transform(BLACK_AND_WHITE.contiguous())
    return sorted(set(x.flatten().tolist()))


def three_channels(normalize) -> ImageDataModule:
    return ImageDataModule("digits", "/tmp", [3, 8, 8], 10, normalize=normalize)


@pytest.mark.parametrize(
    ("normalize", "expected"),
    [
        ("minus_one_one", [-1.0, 1.0]),
        ("zero_one", [0.0, 1.0]),
        (None, [-1.0, 1.0]),  # what older configs (and their checkpoints) meant by null
        ({"mean": [0.25], "std": [0.5]}, [-0.5, 1.5]),  # one value for every channel
    ],
)
def test_each_choice_maps_pixels_where_it_says(normalize, expected: list[float]) -> None:
    assert pixel_range(three_channels(normalize)) == expected


def test_statistics_are_per_channel() -> None:
    mean, std = normalization_stats({"mean": [0.1, 0.2, 0.3], "std": [1, 2, 4]}, 3)
    assert (mean, std) == ([0.1, 0.2, 0.3], [1.0, 2.0, 4.0])


@pytest.mark.parametrize(
    ("normalize", "message"),
    [
        ("minus_one", r"'minus_one' is not known; choose minus_one_one \| zero_one \| \{mean"),
        ({"mean": [0.5, 0.5], "std": [0.5, 0.5]}, "has 2 values for 3 channels"),
        ({"mean": [0.5], "std": [0.0]}, r"std=\[0.0, 0.0, 0.0\] must be positive"),
        ({"mean": [0.5]}, "choose minus_one_one"),
    ],
)
def test_a_bad_value_is_refused_with_the_choices(normalize, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        three_channels(normalize)


def test_a_name_replaces_the_datasets_statistics_from_the_command_line(make_cfg) -> None:
    cfg = make_cfg("train", ["data=digits", "data.normalize=zero_one"])
    assert pixel_range(hydra.utils.instantiate(cfg.data)) == [0.0, 1.0]
    bad = make_cfg("train", ["data=digits", "data.normalize=imagenet"])
    with pytest.raises(InstantiationException, match="data.normalize='imagenet' is not known"):
        hydra.utils.instantiate(bad.data)


def test_gan_experiments_name_their_range(make_cfg) -> None:
    cfg = make_cfg("train", ["experiment=gan_dcgan", "data=digits"])
    assert cfg.data.normalize == "minus_one_one"
    assert pixel_range(hydra.utils.instantiate(cfg.data)) == [-1.0, 1.0]


def test_an_old_checkpoints_null_keeps_its_meaning() -> None:
    stored = checkpoint_config(load_checkpoint(LEGACY_GAN))
    assert stored["data"]["normalize"] is None
    dm = hydra.utils.instantiate(stored_data_config(stored, "/tmp"))
    assert dm.transform(BLACK_AND_WHITE[:, :1].contiguous()).flatten().tolist() == [-1.0, 1.0]
