"""A training data order that a checkpoint can stop and resume in the middle of an epoch.

Lightning saves the `state_dict()` of every training DataLoader that has one into the checkpoint
(`loops.fit_loop.state_dict.combined_loader`) and hands it back to `load_state_dict()` before the
first batch of a resumed fit. `ResumableLoader` answers with (seed, epoch, position): the epoch's
permutation is a pure function of (seed, epoch), as in `DistributedSampler`, and the position is
counted from the batches the loader has *yielded* (not the indices the sampler has produced,
which run ahead when worker processes prefetch). A resumed fit gets the rest of that epoch.

`ResumableSampler` is a `DistributedSampler`, so Lightning does not wrap it under DDP; each rank
builds it with its own (num_replicas, rank) and the stored state holds nothing rank-specific
(every rank has consumed the same number of batches).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler


class ResumableSampler(DistributedSampler):
    """A shuffled shard of `dataset` per epoch (seed + epoch), which can start mid-epoch."""

    def __init__(self, dataset: Dataset, num_replicas: int = 1, rank: int = 0, seed: int = 0):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed)
        self.start = 0  # indices of this epoch's shard to skip (set when a checkpoint is loaded)
        self._start_epoch = 0

    def resume(self, epoch: int, position: int, seed: int) -> None:
        """Next `__iter__` of `epoch` begins at `position` of that epoch's order for `seed`."""
        self.seed, self.epoch = int(seed), int(epoch)
        self.start, self._start_epoch = int(position), int(epoch)

    def __iter__(self) -> Iterator[int]:
        order = list(super().__iter__())
        skip = self.start if self.epoch == self._start_epoch else 0
        self.start = 0  # only the first pass after a resume is shortened
        return iter(order[skip:])


class ResumableLoader(DataLoader):
    """A DataLoader that reports how far into its epoch it is (Lightning's stateful-loader
    interface: `state_dict` / `load_state_dict`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._yielded = 0

    def __iter__(self) -> Iterator[Any]:
        sampler = self.sampler
        start = sampler.start if isinstance(sampler, ResumableSampler) else 0
        self._yielded = start // (self.batch_size or 1)
        for batch in super().__iter__():
            self._yielded += 1
            yield batch

    def state_dict(self) -> dict[str, Any]:
        sampler = self.sampler
        if not isinstance(sampler, ResumableSampler):  # e.g. replaced by overfit_batches
            return {}
        return {
            "seed": sampler.seed,
            "epoch": sampler.epoch,
            "position": self._yielded * (self.batch_size or 1),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state and isinstance(self.sampler, ResumableSampler):
            self.sampler.resume(state["epoch"], state["position"], state["seed"])


def private_generator(seed: int) -> torch.Generator:
    """A DataLoader's own generator: creating an iterator then draws its worker base seed from
    here, not from the global torch RNG, so the global stream (noise, dropout, augmentation)
    does not depend on when Lightning (re)creates loader iterators, e.g. after a resume."""
    return torch.Generator().manual_seed(int(seed))
