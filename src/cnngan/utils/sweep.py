"""Sweeps: the objective a trial returns, and a summary of every multirun.

Every multirun (grid or Optuna, any launcher) ends with `summary.json` and `summary.md` in its
sweep dir: the best value and parameters, and a table of all jobs (status, swept parameters,
objective, test metrics). The `SweepSummary` Hydra callback (conf/hydra/default.yaml) writes one
`job.json` per job when the job ends and the summary when the multirun ends. An interrupted sweep
can be summarized afterwards:

    python -m cnngan.utils.sweep logs/train/multiruns/<timestamp>
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from cnngan.utils.errors import UserError

log = logging.getLogger(__name__)

JOB_FILE = "job.json"
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
# metric names that are minimized when no sweeper says otherwise
_MINIMIZED = ("loss", "fid", "kid", "error", "err", "nll", "wall_s", "mse")


class TrialFailed(RuntimeError):
    """The run finished but its objective is not a finite number (divergence): the sweeper records
    the trial as failed and goes on."""


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def sweep_objective(metrics: Mapping[str, Any], name: str | None) -> float | None:
    """The value `cnngan-train` returns to a sweeper.

    A NaN/inf objective inside a multirun raises `TrialFailed`: Hydra marks the job failed and the
    Optuna sweeper records a FAIL trial. (Returning NaN would crash hydra-optuna-sweeper 1.x: it
    tells Optuna a FAIL state *with* values, which Optuna rejects.)
    """
    value = metric_value(metrics, name)
    if value is None or math.isfinite(value):
        return value
    if _in_multirun():
        raise TrialFailed(
            f"objective {name}={value}: the run diverged; the trial is recorded as failed"
        )
    log.warning("objective %s=%s is not finite: the run diverged", name, value)
    return value


def metric_value(metrics: Mapping[str, Any], name: str | None) -> float | None:
    """The value a sweeper optimizes; a clear error when the name is not among the metrics."""
    if not name:
        return None
    if name not in metrics:
        raise UserError(
            f"optimized_metric={name!r} was not logged; logged metrics are: {sorted(metrics)}. "
            "Set optimized_metric to one of them."
        )
    return float(metrics[name])


def default_direction(metric: str | None) -> str:
    """maximize, unless the metric's name says it is a loss, a distance or an error."""
    leaf = (metric or "").rsplit("/", 1)[-1].lower()
    return (
        "minimize"
        if any(leaf.startswith(m) or leaf.endswith(m) for m in _MINIMIZED)
        else "maximize"
    )


# ----------------------------------------------------------------------------- per-job records
def write_job_record(config: DictConfig, job_return: Any) -> Path | None:
    """Write `job.json` (status, overrides, objective, error) into the job's output dir."""
    from hydra.core.utils import JobStatus

    hydra_cfg = config.hydra
    out_dir = Path(hydra_cfg.runtime.output_dir)
    status = job_return.status
    record: dict[str, Any] = {
        "num": int(hydra_cfg.job.num) if hydra_cfg.job.get("num") is not None else None,
        "status": status.name if status is not None else "UNKNOWN",
        "overrides": list(hydra_cfg.overrides.task),
        "metric": config.get("optimized_metric"),
        "objective": None,
        "error": None,
    }
    if status == JobStatus.COMPLETED:
        value = job_return._return_value
        record["objective"] = float(value) if isinstance(value, int | float) else None
    elif status == JobStatus.FAILED:
        err = job_return._return_value
        record["error"] = f"{type(err).__name__}: {err}"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / JOB_FILE
    path.write_text(json.dumps(_finite(record), indent=2) + "\n")
    return path


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _override_map(overrides: list[str]) -> dict[str, str]:
    out = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if sep:
            out[key.lstrip("+~")] = value
    return out


def collect_jobs(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """One row per job folder of a sweep: job.json merged with the job's metrics.json."""
    rows = []
    for job_dir in sorted(
        p for p in Path(sweep_dir).iterdir() if p.is_dir() and not p.name.startswith(".")
    ):
        record = _read_json(job_dir / JOB_FILE)
        overrides_file = job_dir / ".hydra" / "overrides.yaml"
        if not record and not overrides_file.is_file():
            continue
        if not record.get("overrides") and overrides_file.is_file():
            record["overrides"] = list(OmegaConf.load(overrides_file))
        if record.get("num") is None and job_dir.name.isdigit():
            record["num"] = int(job_dir.name)
        # a folder without job.json: the job was interrupted (or is still running)
        record.setdefault("status", "INTERRUPTED")
        record["dir"] = job_dir.name
        record["metrics"] = _read_json(job_dir / "metrics.json")
        rows.append(record)
    return sorted(rows, key=lambda r: (r.get("num") is None, r.get("num") or 0, r["dir"]))


def _optuna_trials(storage: str, study_name: str) -> list[dict[str, Any]]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=study_name, storage=storage)
    return [
        {"num": t.number, "state": t.state.name, "value": t.value, "params": dict(t.params)}
        for t in study.get_trials(deepcopy=False)
    ]


def summarize(
    sweep_dir: str | Path,
    metric: str | None = None,
    direction: str | None = None,
    storage: str | None = None,
    study_name: str | None = None,
) -> dict[str, Any]:
    """Build the summary of a sweep from its job folders (and its Optuna study, when given)."""
    rows = collect_jobs(sweep_dir)
    metric = metric or next((r.get("metric") for r in rows if r.get("metric")), None)
    direction = direction or default_direction(metric)
    if storage and study_name:
        by_num = {r.get("num"): r for r in rows}
        trials = _optuna_trials(storage, study_name)
        for trial in trials:
            row = by_num.setdefault(
                trial["num"], {"num": trial["num"], "dir": None, "metrics": {}, "overrides": []}
            )
            row["optuna_state"] = trial["state"]
            row["params"] = trial["params"]
            if trial["state"] == "COMPLETE":
                row["objective"] = trial["value"]
            row["status"] = {"COMPLETE": "COMPLETED", "FAIL": "FAILED"}.get(
                trial["state"], trial["state"]
            )
        rows = sorted(by_num.values(), key=lambda r: r.get("num") or 0)
    # the swept parameters: overrides whose value differs between jobs
    maps = [_override_map(r.get("overrides") or []) for r in rows]
    keys = sorted({k for m in maps for k in m})
    swept = [k for k in keys if len({m.get(k) for m in maps}) > 1] if len(rows) > 1 else keys
    for row, overrides in zip(rows, maps, strict=True):
        row.setdefault("params", {})
        row["params"] = {**{k: overrides[k] for k in swept if k in overrides}, **row["params"]}
        if row.get("objective") is None and metric and row.get("status") == "COMPLETED":
            value = row["metrics"].get(metric)
            row["objective"] = value if isinstance(value, int | float) else None
    done = [
        r
        for r in rows
        if r.get("status") == "COMPLETED"
        and isinstance(r.get("objective"), int | float)
        and math.isfinite(r["objective"])
    ]
    best = (
        (max if direction == "maximize" else min)(done, key=lambda r: r["objective"])
        if done
        else None
    )
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return _finite(
        {
            "sweep_dir": str(Path(sweep_dir).resolve()),
            "metric": metric,
            "direction": direction,
            "n_jobs": len(rows),
            "counts": counts,
            "best": None
            if best is None
            else {
                "num": best.get("num"),
                "dir": best.get("dir"),
                "value": best["objective"],
                "params": best["params"],
                "overrides": best.get("overrides"),
            },
            "jobs": [
                {
                    k: r.get(k)
                    for k in (
                        "num",
                        "dir",
                        "status",
                        "objective",
                        "params",
                        "error",
                        "metrics",
                        "overrides",
                    )
                }
                for r in rows
            ],
        }
    )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value).replace("|", "\\|")


def summary_markdown(summary: Mapping[str, Any], max_metrics: int = 4) -> str:
    jobs = summary["jobs"]
    params = sorted({k for j in jobs for k in (j.get("params") or {})})
    metric_names = sorted(
        {k for j in jobs for k in (j.get("metrics") or {}) if k.startswith("test/")}
    )[:max_metrics]
    best = summary.get("best")
    lines = [f"# Sweep summary: {summary['sweep_dir']}", ""]
    lines.append(f"- objective: `{summary['metric']}` ({summary['direction']})")
    lines.append(
        f"- jobs: {summary['n_jobs']} ({', '.join(f'{k.lower()}: {v}' for k, v in summary['counts'].items())})"
    )
    if best:
        shown = ", ".join(f"{k}={v}" for k, v in best["params"].items())
        lines.append(
            f"- best: job {best['num']} ({best['dir']}), {summary['metric']} = {_fmt(best['value'])}, {shown}"
        )
    else:
        lines.append("- best: none (no job completed with a finite objective)")
    header = ["job", "status", *params, summary["metric"] or "objective", *metric_names]
    lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for j in jobs:
        mark = " *" if best and j.get("num") == best["num"] else ""
        cells = [f"{_fmt(j.get('num'))}{mark}", j["status"].lower()]
        cells += [_fmt((j.get("params") or {}).get(p)) for p in params]
        cells += [_fmt(j.get("objective"))] + [
            _fmt((j.get("metrics") or {}).get(m)) for m in metric_names
        ]
        lines.append("| " + " | ".join(cells) + " |")
    errors = [j for j in jobs if j.get("error")]
    if errors:
        lines += ["", "## Failed jobs", ""]
        lines += [f"- job {j.get('num')}: {_fmt(j['error'])[:300]}" for j in errors]
    return "\n".join(lines) + "\n"


def write_summary(sweep_dir: str | Path, **kwargs: Any) -> dict[str, Any]:
    """Write summary.json and summary.md into the sweep dir; return the summary."""
    summary = summarize(sweep_dir, **kwargs)
    sweep_dir = Path(sweep_dir)
    (sweep_dir / SUMMARY_JSON).write_text(json.dumps(summary, indent=2) + "\n")
    (sweep_dir / SUMMARY_MD).write_text(summary_markdown(summary))
    return summary


def summary_kwargs(config: DictConfig) -> dict[str, Any]:
    """metric, direction and Optuna storage of a multirun, read from its config."""
    sweeper = config.hydra.get("sweeper") or {}
    direction = sweeper.get("direction")
    storage, study = sweeper.get("storage"), sweeper.get("study_name")
    return {
        "metric": config.get("optimized_metric"),
        "direction": direction if isinstance(direction, str) else None,
        "storage": storage if isinstance(storage, str) else None,
        "study_name": study if isinstance(study, str) else None,
    }


class SweepSummary(Callback):
    """Hydra callback: `job.json` per job (rank 0 only), the sweep summary at the end."""

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        from hydra.types import RunMode

        from cnngan.utils.distributed import is_rank_zero_process

        if config.hydra.mode != RunMode.MULTIRUN or not is_rank_zero_process():
            return
        try:
            write_job_record(config, job_return)
        except Exception as err:  # never let bookkeeping fail a job
            log.warning("could not write %s: %s", JOB_FILE, err)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.is_dir():
            return
        summary = write_summary(sweep_dir, **summary_kwargs(config))
        best = summary["best"]
        log.info(
            "Sweep summary: %s\n  best %s = %s with %s",
            sweep_dir / SUMMARY_MD,
            summary["metric"],
            None if best is None else best["value"],
            None if best is None else best["params"],
        )


def main(argv: list[str] | None = None) -> None:
    """python -m cnngan.utils.sweep <sweep_dir>: (re)write the summary of a sweep."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("sweep_dir")
    args = parser.parse_args(argv)
    sweep_dir = Path(args.sweep_dir)
    kwargs: dict[str, Any] = {}
    multirun_cfg = sweep_dir / "multirun.yaml"
    if multirun_cfg.is_file():
        config = OmegaConf.load(multirun_cfg)
        kwargs = summary_kwargs(config)
    summary = write_summary(sweep_dir, **kwargs)
    print(summary_markdown(summary))


if __name__ == "__main__":
    main(sys.argv[1:])
