"""Check, before Hydra creates the run folder, that the log folder can take a run's outputs.

A Hydra callback (conf/hydra/default.yaml): Hydra makes the run or sweep folder before any of our
code runs, so a read-only or full log folder would otherwise end in a traceback from inside
Hydra. Here it ends with one message naming the folder and the fix, and exit status 2.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

MIN_FREE_MB = 50


def nearest_existing(path: Path) -> Path:
    """`path` or its closest ancestor that exists (what a mkdir -p would write into)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def output_problem(folder: str | Path, min_free_mb: float = MIN_FREE_MB) -> str | None:
    """Why runs cannot be written under `folder`, or None when they can."""
    base = nearest_existing(Path(folder))
    if not base.is_dir():
        return f"{base} is a file, not a folder"
    try:
        probe = tempfile.mkdtemp(prefix=".cnngan-write-check-", dir=base)
    except OSError as err:
        return f"{base} cannot be written ({err.strerror or err})"
    shutil.rmtree(probe, ignore_errors=True)
    free_mb = shutil.disk_usage(base).free / 2**20
    if free_mb < min_free_mb:
        return f"{base} has only {free_mb:.0f} MB free (a run needs at least {min_free_mb} MB)"
    return None


def _exit_if_unwritable(config: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    HydraConfig.instance().set_config(config)  # so ${hydra:runtime.cwd} in paths resolves
    folder = config.paths.log_dir if "paths" in config else None
    problem = output_problem(folder) if folder else None
    if problem:
        print(
            f"cnngan: error: the log folder {folder} cannot hold this run: {problem}. "
            "Free some space there or point paths.log_dir=<a writable folder>.",
            file=sys.stderr,
        )
        sys.exit(2)


class OutputFolderCheck(Callback):
    """Refuses to start a run or sweep whose log folder is read-only or (nearly) full."""

    def __init__(self, min_free_mb: float = MIN_FREE_MB) -> None:
        self.min_free_mb = min_free_mb

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _exit_if_unwritable(config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _exit_if_unwritable(config)
