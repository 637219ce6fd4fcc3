"""The summary of a sweep: every job's status, swept parameters and objective, and the best job
(one metric) or the Pareto front (several metrics), written as summary.json + summary.md.

The metric(s) and direction(s) come from the sweep's config (`optimized_metric`,
`optimized_direction`); without a direction the summary names no best job.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from cnngan.core.json_safe import json_safe, write_json
from cnngan.sweeps.markdown import summary_markdown
from cnngan.sweeps.objective import as_names, objective_spec
from cnngan.sweeps.records import collect_jobs, finite_objective

SUMMARY_JSON = "summary.json"
TRIAL_KEY = "optuna_trial"
SUMMARY_MD = "summary.md"
_STATE_TO_STATUS = {"COMPLETE": "COMPLETED", "FAIL": "FAILED"}
_JOB_KEYS = (
    "num",
    "dir",
    "status",
    "objective",
    "params",
    "error",
    "pruned",
    "rerun_of",
    "metrics",
)


def _override_map(overrides: list[str]) -> dict[str, str]:
    out = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.lstrip("+~")
        if sep and key != TRIAL_KEY:  # the sweeper's note to the job, not a parameter
            out[key] = value
    return out


def _optuna_trials(storage: str, study_name: str) -> list[dict[str, Any]]:
    import optuna

    from cnngan.sweeps.reruns import RERUN_OF_ATTR  # imports Optuna: only for Optuna sweeps

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=study_name, storage=storage)
    return [
        {
            "num": t.number,
            "state": t.state.name,
            "values": t.values,
            "params": dict(t.params),
            "rerun_of": t.user_attrs.get(RERUN_OF_ATTR),
        }
        for t in study.get_trials(deepcopy=False)
        if t.state.name != "WAITING"  # enqueued, not started: no job yet
    ]


def _merge_trials(rows: list[dict[str, Any]], trials: list[dict[str, Any]]) -> list[dict]:
    """The study's view of each trial over the job folders' (job folder N holds trial N)."""
    by_num = {r.get("num"): r for r in rows}
    for trial in trials:
        empty = {"num": trial["num"], "dir": None, "metrics": {}, "overrides": []}
        row = by_num.setdefault(trial["num"], empty)
        row["params"] = trial["params"]
        row["status"] = _STATE_TO_STATUS.get(trial["state"], trial["state"])
        if trial["rerun_of"] is not None:
            row["rerun_of"] = trial["rerun_of"]
        if trial["state"] == "COMPLETE":
            row["objective"] = trial["values"][0] if len(trial["values"]) == 1 else trial["values"]
    return sorted(by_num.values(), key=lambda r: r.get("num") or 0)


def _add_params_and_objectives(rows: list[dict[str, Any]], names: list[str]) -> None:
    """Parameters: the overrides whose value differs between jobs. Objective of a completed job
    without one (a grid job): its metrics.json values of the optimized metric(s)."""
    maps = [_override_map(r.get("overrides") or []) for r in rows]
    keys = sorted({k for m in maps for k in m})
    swept = [k for k in keys if len({m.get(k) for m in maps}) > 1] if len(rows) > 1 else keys
    for row, overrides in zip(rows, maps, strict=True):
        row["params"] = {
            **{k: overrides[k] for k in swept if k in overrides},
            **(row.get("params") or {}),
        }
        if row.get("objective") is None and names and row.get("status") == "COMPLETED":
            values = [row["metrics"].get(n) for n in names]
            row["objective"] = values[0] if len(values) == 1 else values


def _dominates(a: list[float], b: list[float], signs: list[float]) -> bool:
    better_or_equal = all(s * x >= s * y for x, y, s in zip(a, b, signs, strict=True))
    return better_or_equal and any(s * x > s * y for x, y, s in zip(a, b, signs, strict=True))


def pareto_front(rows: list[dict[str, Any]], directions: list[str]) -> list[dict[str, Any]]:
    """The completed rows no other completed row dominates (better or equal in every objective,
    better in one); with one objective, the best row(s)."""
    signs = [1.0 if d == "maximize" else -1.0 for d in directions]
    done = [
        (r, v)
        for r in rows
        if r.get("status") == "COMPLETED"
        if (v := finite_objective(r.get("objective")))
    ]
    done = [(r, v) for r, v in done if len(v) == len(signs)]
    return [r for r, v in done if not any(_dominates(w, v, signs) for _, w in done)]


def _job_ref(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "num": row.get("num"),
        "dir": row.get("dir"),
        "value": row["objective"],
        "params": row["params"],
        "overrides": row.get("overrides"),
    }


def summarize(
    sweep_dir: str | Path,
    metric: Any = None,
    direction: Any = None,
    storage: str | None = None,
    study_name: str | None = None,
) -> dict[str, Any]:
    """Build the summary of a sweep from its job folders (and its Optuna study, when given)."""
    rows = collect_jobs(sweep_dir)
    if metric is None:
        metric = next((r.get("metric") for r in rows if r.get("metric")), None)
    names, directions = objective_spec(metric, direction) if direction else (as_names(metric), [])
    if storage and study_name:
        rows = _merge_trials(rows, _optuna_trials(storage, study_name))
    _add_params_and_objectives(rows, names)
    front = pareto_front(rows, directions) if directions else []
    single = len(names) <= 1
    best = front[0] if single and front else None
    return json_safe(
        {
            "sweep_dir": str(Path(sweep_dir).resolve()),
            "metric": names[0] if single and names else names or None,
            "direction": (directions[0] if single else directions) if directions else None,
            "n_jobs": len(rows),
            "counts": dict(Counter(r["status"] for r in rows)),
            "best": None if best is None else _job_ref(best),
            "pareto_front": None if single else [_job_ref(r) for r in front],
            "jobs": [{k: r.get(k) for k in (*_JOB_KEYS, "overrides")} for r in rows],
        }
    )


def summary_kwargs(config: DictConfig) -> dict[str, Any]:
    """metric, direction and Optuna study of a multirun, read from its config."""
    sweeper = config.hydra.get("sweeper") or {}
    storage, study = sweeper.get("storage"), sweeper.get("study_name")
    direction = config.get("optimized_direction", sweeper.get("direction"))
    return {
        "metric": config.get("optimized_metric"),
        "direction": direction,
        "storage": storage if isinstance(storage, str) else None,
        "study_name": study if isinstance(study, str) else None,
    }


def write_summary(sweep_dir: str | Path, **kwargs: Any) -> dict[str, Any]:
    """Write summary.json and summary.md into the sweep dir; return the summary."""
    summary = summarize(sweep_dir, **kwargs)
    write_json(Path(sweep_dir) / SUMMARY_JSON, summary)
    (Path(sweep_dir) / SUMMARY_MD).write_text(summary_markdown(summary))
    return summary
