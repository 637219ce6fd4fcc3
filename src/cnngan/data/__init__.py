"""Data: one in-memory image DataModule, dataset sources, batched on-device transforms.

Names are imported on first use, so `cnngan.data.sources` (`python -m cnngan.data.fetch`, the plain
loop of `make bench`) does not pull in Lightning and torchmetrics.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "BatchTransform": "cnngan.data.transforms",
    "CorruptDataError": "cnngan.data.sources",
    "DataNotFoundError": "cnngan.data.sources",
    "ImageArrays": "cnngan.data.sources",
    "ImageDataModule": "cnngan.data.datamodule",
}
__all__ = [
    "BatchTransform",
    "CorruptDataError",
    "DataNotFoundError",
    "ImageArrays",
    "ImageDataModule",
]

if TYPE_CHECKING:
    from cnngan.data.datamodule import ImageDataModule
    from cnngan.data.sources import CorruptDataError, DataNotFoundError, ImageArrays
    from cnngan.data.transforms import BatchTransform


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
