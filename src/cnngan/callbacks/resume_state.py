"""Every random number generator of every rank, into the checkpoint and back.

With the data order (`cnngan.data.sampler`, saved by Lightning as the loader's state) and
Lightning's own state (weights, optimizers, schedulers, loop counters), this makes a run resumed
from any step continue exactly as the uninterrupted run would: same noise, dropout masks and
augmentation.

- Saving: every rank's states (torch CPU and CUDA, NumPy, Python `random`) are gathered into rank
  0's checkpoint (`dump_checkpoint` runs on every rank, so the gather is a valid collective).
- Restoring happens at `on_train_start`, not when the checkpoint is read: between the two,
  Lightning runs the sanity check and builds loader iterators, which the uninterrupted run had
  done before the checkpoint was taken. Rank r gets rank r's states; a checkpoint of another
  world size restores nothing (with a warning): the resumed run is then not bitwise exact.

Everything is stored as tensors, ints, floats and lists: checkpoints load with weights_only=True.
"""

from __future__ import annotations

import random
from typing import Any

import lightning as L
import numpy as np
import torch

from cnngan.utils.rank import log

RngState = dict[str, Any]


def capture_rng() -> RngState:
    """This process's generator states, as plain tensors and numbers."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, py_state, gauss_next = random.getstate()
    state: RngState = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {
            "version": version,
            "state": torch.tensor(py_state, dtype=torch.int64),
            "gauss_next": gauss_next,
        },
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def apply_rng(state: RngState) -> None:
    """Set this process's generators to `state` (from `capture_rng`)."""
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            numpy_state["kind"],
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["pos"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    python = state["python"]
    random.setstate((python["version"], tuple(python["state"].tolist()), python["gauss_next"]))
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


def gather_from_ranks(state: RngState) -> list[RngState]:
    """Every rank's `state`, in rank order (just this one outside DDP)."""
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [state]
    states: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(states, state)
    return states


class ResumeState(L.Callback):
    """Saves the RNG states of all ranks with every checkpoint and restores them on resume."""

    def __init__(self) -> None:
        self._pending: list[RngState] | None = None

    def state_dict(self) -> dict[str, Any]:
        return {"rng": gather_from_ranks(capture_rng())}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = state_dict.get("rng")

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        states, self._pending = self._pending, None
        if not states:
            return
        if len(states) != trainer.world_size:
            log.warning(
                "the checkpoint holds the random states of %d rank(s), this run has %d: they are "
                "not restored, so the resumed run is not bitwise identical to an uninterrupted one",
                len(states),
                trainer.world_size,
            )
            return
        apply_rng(states[trainer.global_rank])
