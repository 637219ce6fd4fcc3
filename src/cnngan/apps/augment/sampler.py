"""The training order of the augmentation study: how many real and synthetic images an epoch draws.

The training set holds the real images first (indices < n_real), then the synthetic pool. Every
epoch draws `real_per_epoch` real images (whole passes over them in a new random order, the last
pass cut short) and round(ratio x real_per_epoch) synthetic ones (with replacement, every class
equally often, whatever a filter left of each class), so the real images are seen as often as in
the real-only baseline and the synthetic ones come on top.

- mode "mix": both kinds shuffled together: every batch holds about ratio synthetic images per
  real one.
- mode "pretrain": the same number of draws per epoch, but the first `pretrain_epochs` epochs
  draw only synthetic images and the later ones only real images (synthetic pre-training, then
  real fine-tuning).

An epoch's order depends only on (seed, epoch): Lightning calls `set_epoch` before each epoch, so
a run resumed at an epoch boundary draws what the uninterrupted run drew.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

from cnngan.core.errors import BadInputError

MODES = ("mix", "pretrain")


def pretrain_epochs(max_epochs: int, ratio: float) -> int:
    """Epochs of synthetic-only pre-training in a run of `max_epochs`: the share ratio / (1 + ratio)
    of the epochs (ratio 1: the first half), at least one and leaving at least one real epoch."""
    if max_epochs < 2:
        raise BadInputError(
            f"data.synthetic.mode=pretrain needs trainer.max_epochs >= 2 (one synthetic and one "
            f"real epoch at least), got {max_epochs}"
        )
    share = round(max_epochs * ratio / (1.0 + ratio))
    return min(max(share, 1), max_epochs - 1)


def class_balanced_weights(labels: torch.Tensor) -> torch.Tensor:
    """Sampling weights over `labels` that give every present class the same total weight."""
    if len(labels) == 0:
        return torch.zeros(0, dtype=torch.float64)
    counts = torch.bincount(labels)
    present = int((counts > 0).sum())
    return 1.0 / (counts[labels].double() * present)


class MixingSampler(Sampler[int]):
    """Indices into [real images, synthetic pool] for one epoch at a time (module docstring).

    Args:
        n_real: real images (indices 0 .. n_real - 1).
        synthetic_labels: labels of the synthetic pool (indices n_real ...); empty = none.
        real_per_epoch: real draws per epoch.
        ratio: synthetic draws per real draw.
        mode: "mix" or "pretrain".
        pretrain_epochs: synthetic-only epochs at the start (mode "pretrain").
        seed: with the epoch, fixes the epoch's order.
    """

    def __init__(
        self,
        n_real: int,
        synthetic_labels: torch.Tensor,
        real_per_epoch: int,
        ratio: float = 0.0,
        mode: str = "mix",
        pretrain_epochs: int = 0,
        seed: int = 0,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"data.synthetic.mode={mode!r}; choose one of {list(MODES)}")
        if n_real < 1 or real_per_epoch < 1:
            raise ValueError(f"need real images and real draws, got {n_real} and {real_per_epoch}")
        self.n_real = int(n_real)
        self.weights = class_balanced_weights(synthetic_labels)
        self.n_real_draws = int(real_per_epoch)
        self.n_synthetic_draws = round(ratio * real_per_epoch) if len(synthetic_labels) else 0
        self.mode = mode
        self.pretrain_epochs = int(pretrain_epochs) if mode == "pretrain" else 0
        self.seed = int(seed)
        self.epoch = 0

    def __len__(self) -> int:
        return self.n_real_draws + self.n_synthetic_draws

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        return iter(self.plan(self.epoch).tolist())

    def is_synthetic_epoch(self, epoch: int) -> bool:
        """Whether `epoch` draws synthetic images only (pre-training)."""
        return epoch < self.pretrain_epochs

    def plan(self, epoch: int) -> torch.Tensor:
        """The indices drawn in `epoch`, in training order."""
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        if self.mode == "pretrain":
            if self.is_synthetic_epoch(epoch):
                return self._synthetic(len(self), gen)
            return self._real(len(self), gen)
        drawn = torch.cat(
            [self._real(self.n_real_draws, gen), self._synthetic(self.n_synthetic_draws, gen)]
        )
        return drawn[torch.randperm(len(drawn), generator=gen)]

    def _real(self, n: int, gen: torch.Generator) -> torch.Tensor:
        passes = math.ceil(n / self.n_real)
        return torch.cat([torch.randperm(self.n_real, generator=gen) for _ in range(passes)])[:n]

    def _synthetic(self, n: int, gen: torch.Generator) -> torch.Tensor:
        if n == 0:
            return torch.zeros(0, dtype=torch.long)
        if len(self.weights) == 0:
            raise ValueError("synthetic draws asked for, but the synthetic pool is empty")
        return self.n_real + torch.multinomial(self.weights, n, replacement=True, generator=gen)
