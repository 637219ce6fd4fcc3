"""Where the images of the metrics come from: a dataset split, a GAN, or files of another program.

All of them are returned in the metrics' convention: uint8 (N, C, H, W), or floats in [0, 1].
Image files are found and decoded by `cnngan.core.image_io`, like every image the project reads.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cnngan.core.errors import BadInputError
from cnngan.core.image_io import IMAGE_SUFFIXES, image_files, load_images, to_unit

TENSOR_SUFFIXES = (".npy", ".npz", ".pt", ".pth")


def reference_split(
    datamodule: Any, split: str, n: int | None, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """uint8 images of a data module's split ("train", "val" or "test") and their labels (None
    where the split has none); a fixed random subset of n when the split is larger (the whole
    split when n is None)."""
    images, labels = datamodule.split_images(split)
    if n is not None and n < len(images):
        index = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n]
        index = index.sort().values
        images, labels = images[index], None if labels is None else labels[index]
    return images, labels


def reference_images(datamodule: Any, split: str, n: int | None, seed: int = 0) -> torch.Tensor:
    """The images of `reference_split`, without their labels."""
    return reference_split(datamodule, split, n, seed)[0]


class GanSampler:
    """`sampler(n, labels=None)` -> n generated images in [0, 1] on the CPU;
    `sampler.labeled(n)` -> (those images, their labels; None for an unconditional GAN).

    Without labels, a conditional GAN gets balanced labels (0, 1, ..., K-1, 0, 1, ..., continued
    from call to call), so class imbalance in the scores comes from the generator only. The latent
    noise comes from one seeded generator: the same seed gives the same images. `truncation` t
    draws it from the normal truncated to [-t, t] (None: untruncated; see `GAN.generate`).
    """

    def __init__(
        self,
        gan: Any,
        use_ema: bool = True,
        seed: int = 0,
        device: str | torch.device = "cpu",
        truncation: float | None = None,
    ) -> None:
        self.gan, self.use_ema, self.device = gan, use_ema, device
        self.truncation = truncation
        self.generator = torch.Generator(device=device).manual_seed(seed)
        hparams = getattr(gan, "hparams", {})
        self.conditional = bool(hparams.get("conditional", False))
        self.num_classes = int(hparams.get("num_classes", 0) or 0)
        self.drawn = 0

    def balanced_labels(self, n: int) -> torch.Tensor | None:
        """The next n labels of the cycle 0, 1, ..., K-1 (None for an unconditional GAN)."""
        if not (self.conditional and self.num_classes):
            return None
        return torch.arange(self.drawn, self.drawn + n) % self.num_classes

    @torch.no_grad()
    def labeled(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        labels = self.balanced_labels(n)
        return self(n, labels), labels

    @torch.no_grad()
    def __call__(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        if labels is None:
            labels = self.balanced_labels(n)
        self.drawn += n
        if labels is not None:
            labels = labels.to(self.device)
        # truncation only when asked for: any object with generate(n, labels, use_ema,
        # generator) can be sampled
        extra = {} if self.truncation is None else {"truncation": self.truncation}
        images = self.gan.generate(
            n, labels=labels, use_ema=self.use_ema, generator=self.generator, **extra
        )
        return to_unit(images.detach().cpu(), "symmetric")


def gan_sampler(
    gan: Any,
    use_ema: bool = True,
    seed: int = 0,
    device: str | torch.device = "cpu",
    truncation: float | None = None,
) -> GanSampler:
    """A `GanSampler` of `gan` (see there)."""
    return GanSampler(gan, use_ema, seed, device, truncation)


def load_samples(
    path: str | Path, value_range: str = "auto", limit: int | None = None
) -> torch.Tensor:
    """Images written by any program: a folder of image files, or a tensor file (.pt/.pth with a
    tensor or a dict holding one under "images"/"samples", or .npy/.npz).

    Returns uint8 (N, C, H, W) or floats in [0, 1]. `value_range` says how float files are
    scaled: "unit" ([0, 1]), "symmetric" ([-1, 1], the usual tanh output) or "auto" (symmetric
    when any value is negative). NHWC arrays are transposed to NCHW.
    """
    path = Path(path)
    if path.suffix in TENSOR_SUFFIXES and path.is_file():
        images = _load_tensor_file(path)
    elif path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        images = load_images(image_files(path, recursive=True)[:limit])
    else:
        raise FileNotFoundError(
            f"samples_path={path} is neither a folder of images nor a tensor file "
            f"({', '.join(TENSOR_SUFFIXES)})"
        )
    images = images[:limit] if limit else images
    return _to_metric_range(_to_nchw(images), value_range)


def _load_tensor_file(path: Path) -> torch.Tensor:
    """A tensor file's images; anything unreadable or unsafe (pickled objects) is the user's to
    fix, named with the file."""
    try:
        return _read_tensor_file(path)
    except BadInputError:
        raise
    except (pickle.UnpicklingError, ValueError, RuntimeError, OSError, EOFError) as err:
        detail = (str(err).splitlines() or [type(err).__name__])[0]
        if "Unsupported global" in str(err) or "allow_pickle" in str(err):
            detail = (
                "it holds pickled Python objects, which cnngan does not load (they can run code)"
            )
        raise BadInputError(
            f"samples_path={path}: cannot read images from it ({detail}). Save a uint8 or float "
            "array/tensor (N, C, H, W) with numpy.save or torch.save."
        ) from None


def _read_tensor_file(path: Path) -> torch.Tensor:
    if path.suffix in (".npy", ".npz"):
        data: Any = np.load(path)
        if isinstance(data, np.lib.npyio.NpzFile):
            key = next(
                (k for k in ("images", "samples", "arr_0") if k in data.files), data.files[0]
            )
            data = data[key]
        return torch.from_numpy(np.ascontiguousarray(data))
    data = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(data, dict):
        key = next((k for k in ("images", "samples") if k in data), None)
        if key is None:
            raise BadInputError(
                f"samples_path={path} holds a dict without 'images' or 'samples': keys {sorted(data)}"
            )
        data = data[key]
    if not isinstance(data, torch.Tensor):
        raise BadInputError(
            f"samples_path={path} holds a {type(data).__name__}, not a tensor of images"
        )
    return data


def _to_nchw(images: torch.Tensor) -> torch.Tensor:
    if images.ndim == 3:  # (N, H, W) grayscale
        images = images.unsqueeze(1)
    if images.ndim != 4:
        raise ValueError(
            f"expected images of shape (N, C, H, W) or (N, H, W, C), got {tuple(images.shape)}"
        )
    if images.shape[1] not in (1, 3) and images.shape[-1] in (1, 3):
        images = images.permute(0, 3, 1, 2)
    return images.contiguous()


def match_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """Grayscale <-> RGB for files written with another channel count than the evaluator's."""
    if images.shape[1] == channels:
        return images
    if images.shape[1] == 3 and channels == 1:
        return (
            images.float().mean(dim=1, keepdim=True).round().to(images.dtype)
            if images.dtype == torch.uint8
            else images.mean(dim=1, keepdim=True)
        )
    if images.shape[1] == 1 and channels == 3:
        return images.repeat(1, 3, 1, 1)
    raise ValueError(f"images have {images.shape[1]} channels, the evaluator takes {channels}")


def _to_metric_range(images: torch.Tensor, value_range: str) -> torch.Tensor:
    if images.dtype == torch.uint8:
        return images
    if not torch.is_floating_point(images):
        raise ValueError(f"images must be uint8 or floats, got {images.dtype}")
    low, high = float(images.min()), float(images.max())
    if value_range == "auto":
        value_range = "symmetric" if low < 0 else "unit"
    expected = {"unit": (0.0, 1.0), "symmetric": (-1.0, 1.0)}.get(value_range)
    tolerance = 1e-3
    if expected and (low < expected[0] - tolerance or high > expected[1] + tolerance):
        raise BadInputError(
            f"sample values lie in [{low:.3g}, {high:.3g}], outside the {value_range} range "
            f"{list(expected)}; save images in [0, 1] or [-1, 1] (or uint8), or set "
            "metrics.samples_range to the range they are in"
        )
    return to_unit(images, value_range)
