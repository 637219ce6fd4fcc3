"""Image files in and out, one way for the whole project: find image files, decode them to uint8,
read a command's `input=` (a file or a folder) at a model's image shape, convert value ranges,
lay images out as a grid (one class per row for a conditional GAN) and save it.

Value ranges are always named explicitly: "unit" is [0, 1] (what image files and the metrics
use), "symmetric" is [-1, 1] (what a tanh generator produces).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from cnngan.core.errors import BadInputError, MissingInputError

IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")
VALUE_RANGES = {"unit": (0.0, 1.0), "symmetric": (-1.0, 1.0)}


def _range(value_range: str) -> tuple[float, float]:
    if value_range not in VALUE_RANGES:
        raise ValueError(f"value_range={value_range!r}; choose one of {sorted(VALUE_RANGES)}")
    return VALUE_RANGES[value_range]


def to_unit(images: torch.Tensor, value_range: str) -> torch.Tensor:
    """Float images in `value_range` -> floats in [0, 1] (clamped)."""
    low, high = _range(value_range)
    return ((images.float() - low) / (high - low)).clamp(0, 1)


def to_uint8(images: torch.Tensor, value_range: str) -> torch.Tensor:
    """Float images in `value_range` -> uint8 in [0, 255], as if saved to an image file."""
    return (to_unit(images, value_range) * 255).round().to(torch.uint8)


def image_files(path: str | Path, recursive: bool = False) -> list[Path]:
    """The image file `path`, or the image files in folder `path` (sorted); a clear error if none."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise MissingInputError(f"{path} is neither an image file nor a folder")
    found = path.rglob("*") if recursive else path.iterdir()
    files = sorted(p for p in found if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise MissingInputError(
            f"no image files ({', '.join(IMAGE_SUFFIXES)}) in folder {path}; "
            "put images there or point to another folder"
        )
    return files


def read_image(file: Path, channels: int | None = None) -> torch.Tensor:
    """One image file -> uint8 (C, H, W); `channels` 1 or 3 converts, None keeps gray as 1 channel."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as image:
            gray = image.mode in ("L", "LA", "I", "I;16", "1")
            mode = {1: "L", 3: "RGB", None: "L" if gray else "RGB"}[channels]
            array = np.asarray(image.convert(mode))
    except (UnidentifiedImageError, OSError) as err:
        raise BadInputError(f"cannot read {file} as an image: {err}") from err
    array = array[:, :, None] if array.ndim == 2 else array
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


def load_images(
    files: Sequence[Path],
    channels: int | None = None,
    size: tuple[int, int] | None = None,
    resize: bool = False,
) -> torch.Tensor:
    """Decode files to one uint8 batch (N, C, H, W).

    With `size` (H, W), an image of another size is resized when `resize` is true, else refused
    with a message that names the file and the fix.
    """
    from torchvision.transforms.v2.functional import resize as resize_fn

    images = []
    for file in files:
        image = read_image(file, channels)
        if size is not None and tuple(image.shape[1:]) != tuple(size):
            if not resize:
                raise BadInputError(
                    f"{file} is {image.shape[2]}x{image.shape[1]} but {size[1]}x{size[0]} images "
                    "are needed; pass resize=true to resize it, or give images of the right size."
                )
            image = resize_fn(image, list(size), antialias=True)
        images.append(image)
    shapes = {tuple(image.shape) for image in images}
    if len(shapes) > 1:
        raise BadInputError(
            f"images differ in size/channels: {sorted(shapes)[:4]}; give them all one size "
            "(or pass resize=true where the command offers it)"
        )
    return torch.stack(images)


def read_image_input(
    input_path: str | Path, image_shape: Sequence[int], resize: bool
) -> tuple[list[Path], torch.Tensor]:
    """The image file or folder `input_path` of a command as one uint8 batch of `image_shape`
    (C, H, W), and its files: gray/RGB are converted to C channels; another size is resized when
    `resize` is true, else refused. Errors name the setting: "input=<path>: <what is wrong>"."""
    channels, height, width = (int(s) for s in image_shape)
    try:
        files = image_files(input_path)
        return files, load_images(files, channels, (height, width), resize)
    except (MissingInputError, BadInputError) as err:
        raise type(err)(f"input={input_path}: {err}") from err


def grid_layout(
    n: int, nrow: int | None, num_classes: int | None
) -> tuple[int, torch.Tensor | None]:
    """How n samples of a GAN fill a grid: the images per row and, for a conditional GAN
    (`num_classes` given), each image's class, one class per row (row r shows class r mod C).
    nrow=None: C images per row for a conditional GAN, else about sqrt(n)."""
    if num_classes is None:
        return nrow or max(1, round(math.sqrt(n))), None
    nrow = nrow or int(num_classes)
    return nrow, row_labels(n, nrow, int(num_classes))


def row_labels(n: int, nrow: int, num_classes: int) -> torch.Tensor:
    """The class of each of n images laid out `nrow` per row, one class per row: (N,) int64."""
    return torch.arange(n) // nrow % num_classes


def image_grid(
    images: torch.Tensor, nrow: int, value_range: str = "symmetric", padding: int = 2
) -> torch.Tensor:
    """(N, C, H, W) images in `value_range` -> one (3, H', W') grid in [0, 1]."""
    from torchvision.utils import make_grid

    return make_grid(
        to_unit(images.detach().cpu(), value_range), nrow=nrow, padding=padding, pad_value=1.0
    )


def save_grid(grid: torch.Tensor, path: str | Path) -> Path:
    """Write a (C, H, W) image in [0, 1] (e.g. from `image_grid`) as a PNG; returns the path."""
    from torchvision.utils import save_image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(grid, path)
    return path
