"""The frame every entry point runs in (in the spirit of the Lightning-Hydra template's
`task_wrapper`): extras, config tree, resolved config saved, an early checkpoint check, the task,
the run card (`run_card.py`), then one `finally` that closes W&B and the DDP group.

A `UserError` (bad config value, missing data, bad checkpoint, bad images) ends the command with
its message and exit status 2, no traceback; `HYDRA_FULL_ERROR=1` shows the traceback, and in a
multirun the error is raised so the sweep records the job as failed and goes on.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf

from cnngan.core.allocator import keep_freed_memory
from cnngan.core.errors import UserError
from cnngan.core.rank import log
from cnngan.run.metrics_file import plain_metrics
from cnngan.run.run_card import write_run_card

T = TypeVar("T")


def run_entry(cfg: DictConfig, task: Callable[[DictConfig], T], command: str = "cnngan") -> T:
    """Run `task(cfg)` inside the shared start-up and tear-down of every cnngan command."""
    from cnngan.distributed.lifecycle import finish_distributed

    try:
        apply_extras(cfg)
        check_checkpoint_early(cfg)
        if (cfg.get("extras") or {}).get("print_config", True):
            print_config_tree(cfg)
        if "paths" in cfg and cfg.paths.get("output_dir"):
            save_resolved_config(cfg, cfg.paths.output_dir)
        result = task(cfg)
        write_run_card(cfg, command)  # <run dir>/README.md (rank 0)
        return result
    except Exception as err:
        message, status = one_line_error(err, cfg)
        if message is not None and in_multirun():  # the job's log says it in one line too
            log.error("%s: error: %s", command, message)
        if message is None or os.environ.get("HYDRA_FULL_ERROR") == "1" or in_multirun():
            raise
        print(f"{command}: error: {message}", file=sys.stderr)
        sys.exit(status)
    finally:
        finish_wandb()
        finish_distributed()  # DDP: wait for the other ranks, free the port for the next job


def one_line_error(err: BaseException, cfg: DictConfig) -> tuple[str | None, int]:
    """The message and exit status for an error that needs no traceback: a user's mistake (2) or
    a DDP rank that lost its peer (1); (None, 1) for a bug."""
    from cnngan.distributed.lifecycle import lost_peer_message

    message = user_error_message(err)
    if message is not None:
        return message, UserError.exit_code
    run_dir = cfg.paths.get("output_dir") if "paths" in cfg else None
    return lost_peer_message(err, run_dir), 1


def user_error_message(err: BaseException) -> str | None:
    """The message for a user's mistake, or None for a bug.

    A `UserError` is one; so is a config value that a constructor rejects with a ValueError while
    Hydra instantiates it (e.g. `model.net.pool=median`): the object named by `_target_` says what
    is wrong, and the message adds which config entry built it.
    """
    from hydra.errors import InstantiationException

    if isinstance(err, UserError):
        return str(err)
    cause = err.__cause__
    if isinstance(err, InstantiationException) and isinstance(cause, UserError | ValueError):
        where = str(err).splitlines()[0].rstrip(":")
        return f"{cause} ({where}; fix that config value)"
    return None


def check_checkpoint_early(cfg: DictConfig) -> None:
    """Fail before any work (data loading, training) on a missing or unreadable `ckpt_path`."""
    if cfg.get("ckpt_path"):
        from cnngan.checkpoints.files import load_checkpoint

        load_checkpoint(cfg.ckpt_path)


def in_multirun() -> bool:
    """Whether this process runs a job of a Hydra multirun (a sweep)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def finish_wandb() -> None:
    """Close the W&B run so a multirun's next job starts a new one (no-op without wandb)."""
    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            wandb.finish()


def apply_extras(cfg: DictConfig) -> None:
    """`extras.ignore_warnings`: silence Python warnings and Lightning's rank-zero chatter.
    `extras.keep_freed_memory`: glibc's malloc keeps freed memory for reuse (`core.allocator`).

    Always silenced: Lightning's hint that `srun` is installed but unused, printed at every local
    run on a machine with SLURM (SLURM jobs go through hydra/launcher=slurm, which uses srun).
    """
    warnings.filterwarnings("ignore", message=".*`srun` command is available on your system")
    extras = cfg.get("extras") or {}
    if extras.get("keep_freed_memory"):
        keep_freed_memory()
    if extras.get("ignore_warnings"):
        warnings.filterwarnings("ignore")
        for name in (
            "lightning.pytorch.utilities.rank_zero",
            "lightning.fabric.utilities.rank_zero",
        ):
            logging.getLogger(name).setLevel(logging.ERROR)


def print_config_tree(cfg: DictConfig) -> None:
    """Print the resolved config as a rich tree, one branch per group."""
    import rich
    import rich.syntax
    import rich.tree

    tree = rich.tree.Tree("CONFIG", style="dim", guide_style="dim")
    first = [k for k in ("data", "model", "trainer", "callbacks", "logger", "paths") if k in cfg]
    for key in first + [k for k in cfg if k not in first]:
        value = cfg[key]
        text = (
            OmegaConf.to_yaml(value, resolve=True) if isinstance(value, DictConfig) else str(value)
        )
        tree.add(key, style="bold").add(rich.syntax.Syntax(text, "yaml"))
    rich.print(tree)


def save_resolved_config(cfg: DictConfig, save_dir: str | Path) -> Path:
    path = Path(save_dir) / "config_resolved.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(OmegaConf.to_yaml(cfg, resolve=True))
    return path


def print_summary(metrics: Mapping[str, Any], wall_s: float, run_dir: str | Path) -> None:
    """Log the test metrics, the best validation accuracy, the wall time and the run folder."""
    shown = {
        k: v for k, v in plain_metrics(metrics).items() if k.startswith(("test/", "val/acc_best"))
    }
    lines = [f"  {k:<22} {v:.4f}" for k, v in shown.items()]
    log.info(
        "Summary\n%s\n  %-22s %.1f s\n  run dir: %s", "\n".join(lines), "wall time", wall_s, run_dir
    )
