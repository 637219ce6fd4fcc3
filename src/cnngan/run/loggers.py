"""Logger factories referenced by conf/logger/*.yaml."""

from __future__ import annotations

import netrc
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

AUTO = "auto"


def wandb_has_credentials() -> bool:
    """True when W&B could log online: an API key in the environment or in ~/.netrc."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = (
        urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
        or "api.wandb.ai"
    )
    netrc_path = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    try:
        return netrc.netrc(netrc_path).authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def resolve_wandb_mode(mode: str = AUTO) -> str:
    """'auto' -> WANDB_MODE if set, else 'online' for a logged-in user, else 'offline'."""
    if mode not in {AUTO, "online", "offline", "disabled"}:
        raise ValueError(f"logger.wandb.mode={mode!r}; choose auto, online, offline or disabled")
    if mode != AUTO:
        return mode
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    return "online" if wandb_has_credentials() else "offline"


def hydra_job_info() -> dict[str, Any]:
    """What W&B needs to know about the Hydra job: multirun or not, sweep dir, job number and
    the job's overrides in short form. Empty outside Hydra."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return {}
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    info: dict[str, Any] = {"multirun": multirun, "output_dir": hc.runtime.output_dir}
    if multirun:
        info["sweep_dir"] = str(hc.sweep.dir)
        info["job_num"] = hc.job.get("num")
        info["override_dirname"] = hc.job.get("override_dirname") or ""
    return info


def sweep_group(task_name: str | None = None) -> str | None:
    """W&B group of a multirun: `<task>-<sweep dir name>` (e.g. `train-2026-01-31_12-00-00_123456`),
    the same for every job of the sweep, so the dashboard compares them. None for single runs."""
    info = hydra_job_info()
    if not info.get("multirun"):
        return None
    name = Path(info["sweep_dir"]).name
    return f"{task_name}-{name}" if task_name else name


# overrides that say where a job writes or how it prints, not what it trains
_NAME_SKIP = (
    "paths.",
    "extras.",
    "callbacks",
    "logger",
    "hparams_search",
    "hydra",
    "tags",
    "+callbacks",
    "~callbacks",
)


def sweep_run_name() -> str | None:
    """W&B run name of a multirun job: `<job number>-<its overrides>` (truncated), leaving out
    overrides about paths, printing and logging."""
    from hydra.core.hydra_config import HydraConfig

    info = hydra_job_info()
    if not info.get("multirun"):
        return None
    overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith(_NAME_SKIP)]
    text = re.sub(r"[^\w.=,+\-]", "", ",".join(overrides))
    return f"{info['job_num']}-{text}"[:120]


def wandb_logger(
    mode: str = AUTO,
    save_dir: str = ".",
    group: str | None = AUTO,
    name: str | None = AUTO,
    job_type: str | None = None,
    **kwargs: Any,
):  # noqa: ANN201 (a WandbLogger; lightning is imported lazily)
    """A Lightning WandbLogger that works without an account: offline unless credentials exist.

    Offline runs are written to `<save_dir>/wandb/offline-run-*`; upload them later with
    `wandb sync <that folder>`. `group="auto"` groups the jobs of a multirun (`sweep_group`),
    `name="auto"` names a multirun job after its overrides; single runs keep W&B's defaults.
    Checkpoints become artifacts with `log_model=True` (at the end) or `"all"` (as written).
    """
    from lightning.pytorch.loggers import WandbLogger

    resolved = resolve_wandb_mode(mode)
    Path(save_dir).mkdir(parents=True, exist_ok=True)
    if group == AUTO:
        group = sweep_group(job_type)
    if name == AUTO:
        name = sweep_run_name()
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    if kwargs.get("tags") is not None:
        kwargs["tags"] = [str(t)[:64] for t in kwargs["tags"]]  # W&B's limit per tag
    return WandbLogger(
        save_dir=save_dir, mode=resolved, group=group, name=name, job_type=job_type, **kwargs
    )
