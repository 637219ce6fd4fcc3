"""Checkpoint files that are either the old one or the complete new one, never half of one.

Lightning's TorchCheckpointIO serializes into memory and lets fsspec write through a temporary
file in the system temp folder, then *moves* it: across filesystems (/tmp vs the run folder) that
move is a copy over the target, so a kill or a full disk during it leaves a truncated checkpoint
where the good one was, and nothing is fsynced. `AtomicCheckpointIO` (the Trainer's `plugins:`,
conf/trainer/default.yaml) streams `torch.save` into a hidden temporary file *next to* the target,
fsyncs it, renames it over the target (atomic on POSIX) and fsyncs the folder. A SIGKILL at any
moment leaves the previous file intact (and at worst a hidden `.<name>.*.tmp`, removed by the
next successful write of that checkpoint); a full or read-only disk raises `CheckpointWriteError`
(one message, exit status 2), with the previous checkpoints intact.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins import TorchCheckpointIO

from cnngan.core.errors import UserError


class CheckpointWriteError(UserError):
    """A checkpoint could not be written (disk full, folder not writable); older ones are intact."""


class AtomicCheckpointIO(TorchCheckpointIO):
    """TorchCheckpointIO whose local writes are atomic (temp file + fsync + rename)."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None
    ) -> None:
        if "://" in str(path):  # remote storage: fsspec's own transaction
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        try:
            write_atomically(checkpoint, Path(path))
        except (OSError, RuntimeError) as failure:
            err = os_error_in(failure)
            if err is None:
                raise
            raise CheckpointWriteError(
                f"could not write checkpoint {path} ({err.strerror or err}): the disk is full or "
                "the folder is not writable. The checkpoints written before are intact: free "
                "space (or choose another paths.log_dir) and resume with "
                f"ckpt_path={Path(path).parent / 'last.ckpt'}"
            ) from err


def os_error_in(error: BaseException) -> OSError | None:
    """The OSError behind `error` (torch.save reports a failed write as a RuntimeError)."""
    while error is not None and not isinstance(error, OSError):
        error = error.__cause__ or error.__context__
    return error


def write_atomically(obj: Any, target: Path) -> None:
    """`torch.save(obj, target)` such that `target` is at all times the old or the new file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    # 0o666 minus the umask, like any file the user creates (mkstemp would make it 0o600)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            torch.save(obj, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_folder(target.parent)
    for stale in target.parent.glob(f".{target.name}.*.tmp"):  # left by a killed writer
        with contextlib.suppress(OSError):
            stale.unlink()


def fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
