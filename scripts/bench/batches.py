"""The plain loop's data: whole batches of in-memory uint8 images, transformed on the device.

`EpochBatches` is what a skilled user writes: a fresh random permutation per epoch (from its own
generator) and one indexing op per batch. `LoaderBatches` draws the batches of cnngan's own
training DataLoader instead: the same images in the same order as a cnngan run with the same
seed, which the equal-work test needs (and nothing the timing depends on). Both transform with
the project's `BatchTransform` (normalize, augment, memory layout), a plain torch function.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import hydra
import torch
from omegaconf import DictConfig

from cnngan.data.normalization import normalization_stats
from cnngan.data.sources import ImageArrays
from cnngan.data.transforms import BatchTransform

Batch = tuple[torch.Tensor, torch.Tensor]


class Batches(Protocol):
    def next(self) -> Batch: ...


def plain_transform(data: DictConfig) -> BatchTransform:
    """The data config's normalization, augmentation and memory layout."""
    mean, std = normalization_stats(data.normalize, int(data.image_shape[0]))
    return BatchTransform(mean, std, channels_last=bool(data.channels_last), **(data.augment or {}))


class EpochBatches:
    """Training batches (drop_last) of uint8 images held on `device`, transformed for training."""

    def __init__(
        self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, transform: BatchTransform
    ) -> None:
        self.images, self.labels = images, labels
        self.batch_size, self.transform = int(batch_size), transform
        self.generator = torch.Generator().manual_seed(0)
        self.perm, self.pos = torch.empty(0, dtype=torch.long), 0

    def next(self) -> Batch:
        if self.pos + self.batch_size > len(self.perm):
            self.perm = torch.randperm(len(self.labels), generator=self.generator)
            self.perm, self.pos = self.perm.to(self.images.device), 0
        idx = self.perm[self.pos : self.pos + self.batch_size]
        self.pos += self.batch_size
        return self.transform(self.images[idx], train=True), self.labels[idx]


class LoaderBatches:
    """The batches of a data module's training DataLoader, epoch after epoch, moved to `device`
    and transformed for training."""

    def __init__(self, datamodule: Any, transform: BatchTransform, device: torch.device) -> None:
        self.datamodule, self.transform, self.device = datamodule, transform, device
        self.iterator: Iterator[Batch] | None = None

    def next(self) -> Batch:
        batch = next(self.iterator, None) if self.iterator is not None else None
        if batch is None:
            self.iterator = iter(self.datamodule.train_dataloader())
            batch = next(self.iterator)
        images, labels = (t.to(self.device) for t in batch)
        return self.transform(images, train=True), labels


_ARRAYS: dict[str, ImageArrays] = {}


def load_arrays(data: DictConfig) -> ImageArrays:
    """The dataset as uint8 tensors, read once per process (reading is not what we measure)."""
    from cnngan.data.sources import SOURCES

    if data.name not in _ARRAYS:
        _ARRAYS[data.name] = SOURCES[data.name](data.data_dir, download=data.download)
    return _ARRAYS[data.name]


def make_batches(data: DictConfig, device: torch.device, source: str = "own") -> Batches:
    """The plain loop's batches of the training split cnngan trains on: "own" (EpochBatches) or
    "loader" (cnngan's DataLoader order, for the equal-work test)."""
    datamodule = hydra.utils.instantiate(data).with_arrays(load_arrays(data))
    transform = plain_transform(data)
    if source == "loader":
        datamodule.setup("fit")
        return LoaderBatches(datamodule, transform, device)
    images, labels = datamodule.split_images("train")
    return EpochBatches(images.to(device), labels.to(device), data.batch_size, transform)
