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


def mlflow_tracking(tracking_uri: str | None, save_dir: str | Path) -> tuple[str, str | None]:
    """(tracking URI, artifact location for a new experiment): `tracking_uri`, else
    MLFLOW_TRACKING_URI, else a local SQLite store `<save_dir>/mlflow.db` whose artifacts go to
    `<save_dir>/artifacts` (MLflow 3 refuses the file store Lightning would fall back to). A
    server or database names its own artifact location (None)."""
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri, None
    folder = Path(save_dir).absolute()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}", (folder / "artifacts").as_uri()


def mlflow_tags(tags: Any = None, task_name: str | None = None) -> dict[str, str]:
    """MLflow run tags: the config's tags, the task, the run folder, and for a multirun job its
    sweep (`<task>-<sweep dir name>`, the same for every job) and job number."""
    info = hydra_job_info()
    found = {
        "cnngan.tags": ",".join(str(t) for t in tags or []),
        "cnngan.task": task_name,
        "cnngan.run_dir": info.get("output_dir"),
        "cnngan.sweep": sweep_group(task_name),
        "cnngan.job": info.get("job_num"),
    }
    return {k: str(v) for k, v in found.items() if v not in (None, "")}


def mlflow_logger(
    experiment_name: str = "cnngan",
    run_name: str | None = AUTO,
    tracking_uri: str | None = None,
    save_dir: str = "mlflow",
    tags: Any = None,
    task_name: str | None = None,
    log_model: bool | str = True,
    **kwargs: Any,
):  # noqa: ANN201 (an MLFlowLogger; lightning is imported lazily)
    """Lightning's MLFlowLogger with a tracking store that works everywhere (`mlflow_tracking`),
    one run per run or multirun job, named `<job number>-<overrides>` in a multirun and after its
    run folder otherwise (`run_name="auto"`), tagged by `mlflow_tags`."""
    from lightning.pytorch.loggers import MLFlowLogger

    uri, artifact_location = mlflow_tracking(tracking_uri, save_dir)
    if run_name == AUTO:
        output_dir = hydra_job_info().get("output_dir")
        run_name = sweep_run_name() or (Path(output_dir).name if output_dir else None)
    return MLFlowLogger(
        experiment_name=experiment_name,
        run_name=run_name,
        tracking_uri=uri,
        tags=mlflow_tags(tags, task_name),
        save_dir=None,
        log_model=log_model,
        artifact_location=kwargs.pop("artifact_location", None) or artifact_location,
        **kwargs,
    )
