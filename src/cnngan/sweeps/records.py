"""One `job.json` per multirun job, and reading a sweep's job folders back.

job.json: {"num", "status" (COMPLETED | FAILED | PRUNED), "overrides", "metric", "objective"
(a float, or a list for several metrics), "error" (FAILED), "pruned" (PRUNED: where and why),
"started", "ended" (Unix times of the job's start and end)}. A job folder without job.json is
INTERRUPTED: the job was killed, or is still running.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from cnngan.core.json_safe import read_json, write_json
from cnngan.sweeps.objective import as_names

JOB_FILE = "job.json"


def is_pruned(error: BaseException | None) -> bool:
    """Optuna's TrialPruned (checked by name: reading a record must not import Optuna)."""
    return error is not None and any(
        c.__name__ == "TrialPruned" and c.__module__.startswith("optuna")
        for c in type(error).__mro__
    )


def job_outcome(job_return: Any) -> tuple[str, Any]:
    """(status, value): COMPLETED + the returned objective, PRUNED or FAILED + the exception.

    Hydra's `JobReturn.return_value` re-raises a failed job's exception (and prints it), so the
    exception is read from `_return_value`, here only.
    """
    status = job_return.status.name if job_return.status is not None else "UNKNOWN"
    if status == "COMPLETED":
        return status, job_return.return_value
    error = job_return._return_value
    if status == "FAILED" and is_pruned(error):
        return "PRUNED", error
    return status, error


def objective_of(value: Any) -> float | list[float] | None:
    """A job's return value as a JSON objective (a number or a list of numbers), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list | tuple) and value and all(isinstance(v, int | float) for v in value):
        return [float(v) for v in value]
    return None


def write_job_record(
    config: DictConfig, job_return: Any, started: float | None = None, ended: float | None = None
) -> Path:
    """Write `job.json` into the job's output dir."""
    hydra_cfg = config.hydra
    status, value = job_outcome(job_return)
    metric = as_names(config.get("optimized_metric"))
    record: dict[str, Any] = {
        "num": int(hydra_cfg.job.num) if hydra_cfg.job.get("num") is not None else None,
        "status": status,
        "overrides": list(hydra_cfg.overrides.task),
        "metric": metric[0] if len(metric) == 1 else metric or None,
        "objective": objective_of(value) if status == "COMPLETED" else None,
        "error": f"{type(value).__name__}: {value}" if status == "FAILED" else None,
        "started": started,
        "ended": ended,
    }
    if status == "PRUNED":
        record["pruned"] = str(value)
    return write_json(Path(hydra_cfg.runtime.output_dir) / JOB_FILE, record)


def _read(path: Path) -> dict[str, Any]:
    try:
        value = read_json(path)
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def read_job(job_dir: Path) -> dict[str, Any] | None:
    """job.json of a job folder merged with its metrics.json; None when it is no job folder."""
    record = _read(job_dir / JOB_FILE)
    overrides_file = job_dir / ".hydra" / "overrides.yaml"
    if not record and not overrides_file.is_file():
        return None
    if not record.get("overrides") and overrides_file.is_file():
        record["overrides"] = list(OmegaConf.load(overrides_file))
    if record.get("num") is None and job_dir.name.isdigit():
        record["num"] = int(job_dir.name)
    record.setdefault("status", "INTERRUPTED")
    record["dir"] = job_dir.name
    record["metrics"] = _read(job_dir / "metrics.json")
    return record


def collect_jobs(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """One row per job folder of a sweep, in job order."""
    folders = sorted(
        p for p in Path(sweep_dir).iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    rows = [row for row in map(read_job, folders) if row is not None]
    return sorted(rows, key=lambda r: (r.get("num") is None, r.get("num") or 0, r["dir"]))


def finished_job(sweep_dir: Path, number: int) -> dict[str, Any] | None:
    """The job.json of job folder `number` when that job ended (folder N holds trial N)."""
    record = _read(sweep_dir / str(number) / JOB_FILE)
    return record if record.get("status") in ("COMPLETED", "FAILED", "PRUNED") else None


def finite_objective(value: Any) -> list[float] | None:
    """An objective as a list of finite floats, or None (missing, failed, NaN)."""
    values = objective_of(value)
    values = [values] if isinstance(values, float) else values
    return values if values and all(math.isfinite(v) for v in values) else None
