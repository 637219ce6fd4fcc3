"""Random number generator states in checkpoints, so that a resumed run draws the same noise and
data order as an uninterrupted one (tensors only: checkpoints load with weights_only=True)."""

from __future__ import annotations

from typing import Any

import torch

RNG_KEY = "cnngan_rng_states"


def save_rng_states(checkpoint: dict[str, Any]) -> None:
    states = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    checkpoint[RNG_KEY] = states


def restore_rng_states(checkpoint: dict[str, Any]) -> None:
    """Restore the stored states; not under DDP, where each rank keeps its own stream (seed +
    rank) and rank 0's stored state would merge them."""
    states = checkpoint.get(RNG_KEY)
    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    if not states or (distributed and torch.distributed.get_world_size() > 1):
        return
    torch.set_rng_state(states["torch"])
    cuda = states.get("cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
