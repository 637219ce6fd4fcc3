"""What `data.normalize` means: the per-channel mean and std that map [0, 1] pixels to a
network's input, x -> (x - mean) / std.

A config gives either the statistics themselves, `{mean: [...], std: [...]}` (one value per
channel; a classifier uses its dataset's), or a named range:
- `minus_one_one`: mean = std = 0.5, so pixels span [-1, 1] (a GAN's generator ends in tanh);
- `zero_one`: mean 0, std 1, the pixels as they are.
`null` is what configs wrote for [-1, 1] before these names existed; checkpoints of that time
store it, so it keeps that meaning (LEGACY_NULL).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cnngan.core.rank import log

NAMED = {"minus_one_one": (0.5, 0.5), "zero_one": (0.0, 1.0)}
LEGACY_NULL = "minus_one_one"
CHOICES = f"{' | '.join(NAMED)} | {{mean: [...], std: [...]}} (per channel)"

Stats = tuple[list[float], list[float]]


def normalization_stats(normalize: str | Mapping[str, Any] | None, channels: int) -> Stats:
    """(mean, std), one value per channel, for a `data.normalize` value; ValueError naming the
    choices for anything else."""
    if normalize is None:
        log.info("data.normalize=null (an older config) means %s: pixels in [-1, 1]", LEGACY_NULL)
        normalize = LEGACY_NULL
    if isinstance(normalize, str):
        if normalize not in NAMED:
            raise ValueError(f"data.normalize={normalize!r} is not known; choose {CHOICES}")
        mean, std = NAMED[normalize]
        return [mean] * channels, [std] * channels
    if isinstance(normalize, Mapping) and set(normalize) == {"mean", "std"}:
        return per_channel(normalize["mean"], "mean", channels), positive_std(normalize, channels)
    raise ValueError(f"data.normalize={normalize!r}: choose {CHOICES}")


def per_channel(values: Sequence[float] | Any, key: str, channels: int) -> list[float]:
    """One value per channel; a single value stands for every channel."""
    values = [float(v) for v in values]
    if len(values) == 1:
        return values * channels
    if len(values) != channels:
        raise ValueError(
            f"data.normalize.{key} has {len(values)} values for {channels} channels: give one "
            "per channel (or one for all)"
        )
    return values


def positive_std(normalize: Mapping[str, Any], channels: int) -> list[float]:
    std = per_channel(normalize["std"], "std", channels)
    if any(s <= 0 for s in std):
        raise ValueError(f"data.normalize.std={std} must be positive")
    return std
