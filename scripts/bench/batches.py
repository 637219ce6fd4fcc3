"""The plain loop's data: a fresh random permutation per epoch, whole batches indexed at once.

The permutation is drawn as `DataLoader(shuffle=True)` draws it (at the start of every epoch,
two int64 from torch's global RNG: the loader's base seed, then the sampler's seed for `randperm`
from its own generator), so that at equal
seeds both contenders see the same batches; the batch transform (normalize, augment, layout) is
the project's `BatchTransform`, a plain torch function.
"""

from __future__ import annotations

import torch
from omegaconf import DictConfig

from cnngan.data.sources import ImageArrays
from cnngan.data.transforms import BatchTransform


def plain_transform(data: DictConfig) -> BatchTransform:
    """The data config's normalization, augmentation and memory layout (null normalize = 0.5)."""
    channels = int(data.image_shape[0])
    norm = data.normalize or {"mean": [0.5] * channels, "std": [0.5] * channels}
    return BatchTransform(
        norm["mean"], norm["std"], channels_last=bool(data.channels_last), **(data.augment or {})
    )


def _draw_int64() -> int:
    return int(torch.empty((), dtype=torch.int64).random_().item())


class EpochBatches:
    """Training batches (drop_last) of uint8 images on `device`, transformed for training."""

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        transform: BatchTransform,
        device: torch.device,
    ) -> None:
        self.images, self.labels = images.to(device), labels.to(device)
        self.batch_size, self.transform, self.device = int(batch_size), transform, device
        self.perm, self.pos = torch.empty(0, dtype=torch.long), 0

    def _new_epoch(self) -> None:
        _draw_int64()  # a DataLoader iterator draws its workers' base seed first (unused here)
        seed = _draw_int64()  # then RandomSampler the seed of its permutation
        generator = torch.Generator().manual_seed(seed)
        self.perm, self.pos = torch.randperm(len(self.labels), generator=generator), 0

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.pos + self.batch_size > len(self.perm):
            self._new_epoch()
        idx = self.perm[self.pos : self.pos + self.batch_size].to(self.device)
        self.pos += self.batch_size
        return self.transform(self.images[idx], train=True), self.labels[idx]


def train_split(data: DictConfig, arrays: ImageArrays) -> tuple[torch.Tensor, torch.Tensor]:
    """The training images cnngan trains on (validation images carved out, subset applied)."""
    import hydra

    return hydra.utils.instantiate(data).with_arrays(arrays).split_images("train")


_ARRAYS: dict[str, ImageArrays] = {}


def load_arrays(data: DictConfig) -> ImageArrays:
    """The dataset as uint8 tensors, read once per process (reading is not what we measure)."""
    from cnngan.data.sources import SOURCES

    if data.name not in _ARRAYS:
        _ARRAYS[data.name] = SOURCES[data.name](data.data_dir, download=data.download)
    return _ARRAYS[data.name]
