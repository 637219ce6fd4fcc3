"""Resume a SLURM job that the scheduler requeued (preemption, `scontrol requeue`, a node failure).

A requeued job runs its batch script again: submitit unpickles the same Hydra job, which composes
the same config and writes into the same run folder. Without help it would train from scratch and
overwrite that folder. `resume_checkpoint` makes `trainer.fit` continue from the run's own
`last.ckpt` instead (weights, optimizer, epoch and step counters, callback states).

SLURM tells a requeued job apart by `SLURM_RESTART_COUNT` (unset on the first run). A job that
was not requeued keeps the `ckpt_path` it was given; so does a requeued job that has no
`last.ckpt` yet (requeued before its first checkpoint: it starts over, nothing else is lost).
A job requeued at its time limit or at a preemption saved that checkpoint itself first
(`cnngan.checkpoints.preemption`).

Which state `last.ckpt` holds depends on the checkpoint callback: with a monitored metric and
`save_top_k=1` (the classifiers' default), Lightning 2.6 writes it at an epoch end only when the
metric improved, and the checkpoint clock (`train_time_interval`, `every_n_train_steps`) in
between. A requeued job repeats the work since that checkpoint, never the whole run.
"""

from __future__ import annotations

import os
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

from cnngan.core.rank import log


def slurm_restart_count() -> int:
    """How often SLURM has requeued this job (0 outside SLURM and on a job's first run)."""
    value = os.environ.get("SLURM_RESTART_COUNT", "").strip()
    return int(value) if value.isdigit() else 0


def last_checkpoint_callback(trainer: L.Trainer) -> ModelCheckpoint | None:
    """The trainer's first ModelCheckpoint that saves a `last.ckpt` into a known folder."""
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.save_last and callback.dirpath:
            return callback
    return None


def last_checkpoint_path(callback: ModelCheckpoint) -> Path:
    """Where `callback` writes its last checkpoint (`<dirpath>/last.ckpt`)."""
    return (
        Path(callback.dirpath or ".") / f"{callback.CHECKPOINT_NAME_LAST}{callback.FILE_EXTENSION}"
    )


def last_checkpoint(trainer: L.Trainer) -> Path | None:
    """The `last.ckpt` of the trainer's first ModelCheckpoint that saves one, if it exists."""
    callback = last_checkpoint_callback(trainer)
    path = last_checkpoint_path(callback) if callback is not None else None
    return path if path is not None and path.is_file() else None


def resume_checkpoint(trainer: L.Trainer, ckpt_path: str | None) -> str | None:
    """The checkpoint `trainer.fit` should start from: the run's last checkpoint when SLURM
    requeued this job and one was saved before, else `ckpt_path` (None: from scratch)."""
    restarts = slurm_restart_count()
    if restarts == 0:
        return ckpt_path
    last = last_checkpoint(trainer)
    if last is None:
        log.info("SLURM requeued this job (restart %d); no last checkpoint yet", restarts)
        return ckpt_path
    epoch, step = _progress(last)
    log.info(
        "SLURM requeued this job (restart %d): resuming from %s (epoch %d, global step %d)",
        restarts,
        last,
        epoch,
        step,
    )
    return str(last)


def _progress(path: Path) -> tuple[int, int]:
    """The epoch and global step a checkpoint was saved at (memory-mapped: reads little)."""
    import torch

    checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    return int(checkpoint.get("epoch", -1)), int(checkpoint.get("global_step", -1))
