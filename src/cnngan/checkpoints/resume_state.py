"""Every random number generator of every rank, and the position in the data order, into the
checkpoint and back.

With Lightning's own state (weights, optimizers, schedulers, loop counters), this makes a run
resumed from any step continue exactly as the uninterrupted run would: the next batch of the same
epoch order (`cnngan.data.sampler`), the same noise, dropout masks and augmentation.

- The data position: Lightning saves a stateful training loader's `state_dict()` and hands it
  back in `FitLoop.setup_data()`, but only when the loader is first built *after* the checkpoint
  was read. Anything that asks for `trainer.estimated_stepping_batches` while the optimizers are
  configured (OneCycleLR does) builds it earlier, and Lightning 2.6 then silently starts the
  epoch over. So the loader states are also kept here and applied at `on_train_start`, before
  the first batch is drawn (the loader's iterator starts lazily).

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

from cnngan.core.rank import log

RngState = dict[str, Any]
# where checkpoints written before this callback existed hold the GAN's torch RNG state
LEGACY_RNG_KEY = "cnngan_rng_states"


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


def stateful_loaders(loaders: Any) -> list[Any]:
    """The training loaders (one, or a list/dict of them) that have a resumable state."""
    if isinstance(loaders, dict):
        loaders = list(loaders.values())
    if not isinstance(loaders, list | tuple):
        loaders = [loaders]
    return [loader for loader in loaders if hasattr(loader, "load_state_dict")]


class ResumeState(L.Callback):
    """Saves the RNG states of all ranks and the data position with every checkpoint and
    restores them when a fit resumes."""

    def __init__(self) -> None:
        self._trainer: L.Trainer | None = None
        self._pending: dict[str, Any] = {}

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._trainer = trainer

    def state_dict(self) -> dict[str, Any]:
        loaders = self._trainer.train_dataloader if self._trainer is not None else None
        data = [loader.state_dict() for loader in stateful_loaders(loaders)] if loaders else []
        return {"rng": gather_from_ranks(capture_rng()), "data": data}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = dict(state_dict)

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """Checkpoints of the earlier layout kept the GAN's torch RNG state under its own key."""
        legacy = checkpoint.get(LEGACY_RNG_KEY)
        if legacy and not self._pending.get("rng"):
            self._pending["legacy_torch_rng"] = legacy["torch"]

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        pending, self._pending = self._pending, {}
        loaders = stateful_loaders(trainer.train_dataloader)
        if pending.get("data") and len(pending["data"]) == len(loaders):
            for loader, state in zip(loaders, pending["data"], strict=True):
                loader.load_state_dict(state)
        states = pending.get("rng")
        if not states:
            if "legacy_torch_rng" in pending and trainer.world_size == 1:
                torch.set_rng_state(pending["legacy_torch_rng"])
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
