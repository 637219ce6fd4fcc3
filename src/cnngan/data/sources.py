"""Dataset sources: each loads a whole dataset into uint8 tensors of shape (N, C, H, W).

No source does per-sample work at training time; they run once, in `ImageDataModule.setup()`.
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cnngan.core.errors import UserError

DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
IDX_FILES = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}


class DataNotFoundError(UserError, FileNotFoundError):
    """Raised when a dataset is in none of the places we look and cannot be downloaded."""


class CorruptDataError(UserError, ValueError):
    """Raised when a dataset file exists but is truncated or not what its name says."""


@dataclass
class ImageArrays:
    """A dataset held in memory: uint8 images (N, C, H, W) and int64 labels (N,)."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor

    def __post_init__(self) -> None:
        for name in ("train_x", "test_x"):
            images = getattr(self, name)
            if images.dtype != torch.uint8 or images.ndim != 4:
                raise ValueError(
                    f"{name} must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}"
                )
        if len(self.train_x) != len(self.train_y) or len(self.test_x) != len(self.test_y):
            raise ValueError("images and labels differ in length")


# ----------------------------------------------------------------------------- IDX (MNIST family)
def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped), checking its header against its length."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:
        raise CorruptDataError(
            f"cannot read {path}: {err}. The file is truncated or corrupt; delete it and "
            "fetch it again."
        ) from err
    if len(raw) < 4:
        raise CorruptDataError(
            f"{path} is truncated ({len(raw)} bytes); delete it and fetch it again."
        )
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise CorruptDataError(f"{path} is not an IDX file of unsigned bytes (bad magic number).")
    header_len = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}I", raw[4:header_len])
    expected = int(np.prod(dims))
    if len(raw) - header_len != expected:
        raise CorruptDataError(
            f"{path} is truncated: header announces {expected} bytes of data, file holds "
            f"{len(raw) - header_len}. Delete it and fetch it again."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(dims)


def _find_idx(directory: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    return None


def _idx_dir_complete(directory: Path) -> bool:
    return all(_find_idx(directory, stem) for stem in IDX_FILES.values())


def load_idx_dir(directory: Path) -> ImageArrays:
    """Load the four standard IDX files of an MNIST-like dataset from one folder."""
    arrays = {}
    for key, stem in IDX_FILES.items():
        path = _find_idx(directory, stem)
        if path is None:
            raise DataNotFoundError(f"{directory} lacks {stem}[.gz]")
        arrays[key] = read_idx(path)
    images = {k: torch.from_numpy(arrays[k].copy()).unsqueeze(1) for k in ("train_x", "test_x")}
    labels = {k: torch.from_numpy(arrays[k].astype(np.int64)) for k in ("train_y", "test_y")}
    return ImageArrays(images["train_x"], labels["train_y"], images["test_x"], labels["test_y"])


def _torchvision_download(dataset_cls_name: str, root: Path) -> Path:
    """Download an MNIST-like dataset with torchvision; return the folder of its raw IDX files."""
    import torchvision

    dataset_cls = getattr(torchvision.datasets, dataset_cls_name)
    for train in (True, False):
        dataset_cls(root=str(root), train=train, download=True)
    return root / dataset_cls_name / "raw"


def load_mnist_like(
    data_dir: str | Path,
    torchvision_name: str,
    extra_dirs: tuple[Path, ...] = (),
    download: bool = True,
) -> ImageArrays:
    """Look in data_dir (several layouts), then in extra_dirs, then download through torchvision."""
    data_dir = Path(data_dir)
    candidates = [
        data_dir / torchvision_name / "raw",
        data_dir / torchvision_name.lower(),
        data_dir / torchvision_name.lower().replace("fashionmnist", "fashion-mnist"),
        data_dir,
        *extra_dirs,
    ]
    for directory in candidates:
        if _idx_dir_complete(directory):
            return load_idx_dir(directory)
    download_error: Exception | None = None
    if download:
        try:
            return load_idx_dir(_torchvision_download(torchvision_name, data_dir))
        except Exception as err:  # network errors come in many types
            download_error = err
    raise DataNotFoundError(
        _missing_message(torchvision_name, data_dir, extra_dirs, download_error)
    )


def _missing_message(
    name: str, data_dir: Path, extra_dirs: tuple[Path, ...], err: Exception | None
) -> str:
    lines = [
        f"{name} not found. Looked in {data_dir}/{name}/raw, {data_dir} and "
        + (", ".join(str(d) for d in extra_dirs) or "no other folder")
        + ".",
        "Get the data in one of these ways:",
        f"  1. put the four IDX files (train-images-idx3-ubyte.gz, ...) in {data_dir}/{name}/raw "
        "(or point paths.data_dir=<folder> at a copy you have);",
    ]
    if name == "FashionMNIST":
        lines.append(
            "  2. on Debian/Ubuntu: sudo apt-get install -y dataset-fashion-mnist "
            f"(installs them in {DEBIAN_FASHION_MNIST_DIR});"
        )
    lines.append(
        "  3. let torchvision download them (needs internet access to the dataset host)"
        + (
            f"; the download failed: {type(err).__name__}: {err}"
            if err
            else "; download was disabled"
        )
        + "."
    )
    return "\n".join(lines)


def load_fashion_mnist(data_dir: str | Path, download: bool = True) -> ImageArrays:
    return load_mnist_like(data_dir, "FashionMNIST", (DEBIAN_FASHION_MNIST_DIR,), download)


def load_mnist(data_dir: str | Path, download: bool = True) -> ImageArrays:
    return load_mnist_like(data_dir, "MNIST", (), download)


# ----------------------------------------------------------------------------- CIFAR-10
def load_cifar10(data_dir: str | Path, download: bool = True) -> ImageArrays:
    """CIFAR-10 through torchvision (reads a local copy under data_dir, else downloads)."""
    import torchvision

    data_dir = Path(data_dir)
    try:
        parts = [
            torchvision.datasets.CIFAR10(str(data_dir), train=t, download=download)
            for t in (True, False)
        ]
    except Exception as err:
        raise DataNotFoundError(
            f"CIFAR-10 not found in {data_dir}/cifar-10-batches-py and could not be downloaded "
            f"({type(err).__name__}: {err}). Either put the extracted 'cifar-10-batches-py' folder "
            f"in {data_dir} (or set paths.data_dir=<folder holding it>), or run where "
            "torchvision can download it."
        ) from err

    def to_tensors(ds) -> tuple[torch.Tensor, torch.Tensor]:
        images = torch.from_numpy(np.ascontiguousarray(ds.data)).permute(0, 3, 1, 2).contiguous()
        return images, torch.as_tensor(ds.targets, dtype=torch.int64)

    (train_x, train_y), (test_x, test_y) = (to_tensors(p) for p in parts)
    return ImageArrays(train_x, train_y, test_x, test_y)


# ----------------------------------------------------------------------------- sklearn digits
def load_digits(
    data_dir: str | Path | None = None, download: bool = True, test_fraction: float = 0.2
) -> ImageArrays:
    """scikit-learn's bundled 8x8 digits (1797 images, always available offline).

    The set has no official test split, so a fixed stratified 20% is held out (seed 0).
    """
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    images = torch.from_numpy(np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)).unsqueeze(1)
    labels = torch.from_numpy(bunch.target.astype(np.int64))
    gen = torch.Generator().manual_seed(0)
    test_idx = []
    for c in labels.unique():
        members = (labels == c).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=gen)]
        test_idx.append(members[: round(len(members) * test_fraction)])
    test_mask = torch.zeros(len(labels), dtype=torch.bool)
    test_mask[torch.cat(test_idx)] = True
    return ImageArrays(images[~test_mask], labels[~test_mask], images[test_mask], labels[test_mask])


SOURCES = {
    "fashion_mnist": load_fashion_mnist,
    "mnist": load_mnist,
    "cifar10": load_cifar10,
    "digits": load_digits,
}
