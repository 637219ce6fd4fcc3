"""Checkpoints that load with PyTorch's safe loader and rebuild their model from plain data.

Every checkpoint written by `cnngan-train` holds, besides Lightning's usual state, the run's
resolved config under the key `cnngan` (plain dicts, lists, strings and numbers only).
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch

from cnngan.core.errors import UserError

CONFIG_KEY = "cnngan"


class CheckpointError(UserError, ValueError):
    """A file that is missing, unreadable or not a cnngan checkpoint."""


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a cnngan checkpoint with `weights_only=True`, or explain what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {path} does not exist; pass ckpt_path=<a .ckpt file from logs/.../checkpoints/>"
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        if found is None:
            raise _unreadable(path, err, detail="not a valid pickle stream") from None
        raise CheckpointError(
            f"cannot read checkpoint {path}: it holds pickled Python objects ({found.group(1)}), not "
            "only weights and "
            "plain data, and loading such a file can run code, so cnngan refuses it. Use a "
            "checkpoint written by cnngan-train (checkpoints/last.ckpt or best.ckpt of a run) "
            "from a source you trust."
        ) from None
    except Exception as err:
        raise _unreadable(path, err) from None
    if (
        not isinstance(checkpoint, dict)
        or CONFIG_KEY not in checkpoint
        or "state_dict" not in checkpoint
    ):
        raise CheckpointError(
            f"{path} is a PyTorch file but not a cnngan checkpoint (no '{CONFIG_KEY}' config "
            "inside); use a checkpoint written by cnngan-train."
        )
    return checkpoint


def _unreadable(path: Path, err: Exception, detail: str | None = None) -> CheckpointError:
    detail = detail or (str(err).splitlines() or [""])[0]
    return CheckpointError(
        f"cannot read checkpoint {path} ({type(err).__name__}: {detail}). "
        "The file is truncated, corrupt or not a PyTorch checkpoint; pick another one "
        "(checkpoints/last.ckpt or best.ckpt of a finished run)."
    )


def checkpoint_config(checkpoint: dict[str, Any]) -> dict[str, Any]:
    return checkpoint[CONFIG_KEY]["config"]
