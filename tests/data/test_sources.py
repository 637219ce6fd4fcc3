import gzip
import shutil
from pathlib import Path

import pytest
import torch

from cnngan.data import sources
from cnngan.data.sources import (
    CorruptDataError,
    DataNotFoundError,
    load_digits,
    load_fashion_mnist,
    read_idx,
)
from tests.conftest import FASHION_MNIST_DEBIAN


@pytest.mark.usefixtures("require_fashion_mnist")
def test_fashion_mnist_arrays() -> None:
    arrays = load_fashion_mnist("/nonexistent", download=False)
    assert arrays.train_x.shape == (60000, 1, 28, 28) and arrays.test_x.shape == (10000, 1, 28, 28)
    assert arrays.train_x.dtype == torch.uint8 and arrays.train_y.dtype == torch.int64
    assert sorted(arrays.train_y.unique().tolist()) == list(range(10))
    assert torch.bincount(arrays.test_y).tolist() == [1000] * 10
    assert int(arrays.train_x.max()) == 255 and int(arrays.train_x.min()) == 0


def test_digits_arrays_and_fixed_split() -> None:
    a, b = load_digits(), load_digits()
    assert a.train_x.shape[1:] == (1, 8, 8) and len(a.train_y) + len(a.test_y) == 1797
    assert torch.equal(a.test_x, b.test_x)  # the same split every time
    assert int(a.train_x.max()) == 255
    # stratified: every class in the test split, about 20% of it
    assert torch.bincount(a.test_y).min() >= 30


def test_missing_data_names_all_three_ways(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-debian")
    with pytest.raises(DataNotFoundError) as info:
        sources.load_mnist_like(tmp_path, "FashionMNIST", (tmp_path / "no-debian",), download=False)
    message = str(info.value)
    assert "apt-get install -y dataset-fashion-mnist" in message
    assert "FashionMNIST/raw" in message and "torchvision" in message


@pytest.mark.usefixtures("require_fashion_mnist")
def test_truncated_file_is_reported(tmp_path: Path) -> None:
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for f in FASHION_MNIST_DEBIAN.glob("*.gz"):
        shutil.copy(f, raw / f.name)
    data = gzip.decompress((raw / "t10k-images-idx3-ubyte.gz").read_bytes())
    (raw / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(data[: len(data) // 2]))
    with pytest.raises(CorruptDataError, match="truncated"):
        load_fashion_mnist(tmp_path, download=False)


def test_not_an_idx_file(tmp_path: Path) -> None:
    bad = tmp_path / "x-idx3-ubyte"
    bad.write_bytes(b"PK\x03\x04 definitely a zip")
    with pytest.raises(CorruptDataError, match="not an IDX"):
        read_idx(bad)
