"""summary.md: a sweep's summary (cnngan.sweeps.summary) as Markdown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(_fmt(v) for v in value)
    return "" if value is None else str(value).replace("|", "\\|")


def _names(summary: Mapping[str, Any]) -> list[str]:
    metric = summary.get("metric")
    return [metric] if isinstance(metric, str) else list(metric or [])


def _head(summary: Mapping[str, Any]) -> list[str]:
    names, direction = _names(summary), summary.get("direction")
    directions = [direction] if isinstance(direction, str) else list(direction or [])
    shown = ", ".join(
        f"`{n}` ({directions[i] if i < len(directions) else 'direction not set'})"
        for i, n in enumerate(names)
    )
    counts = ", ".join(f"{k.lower()}: {v}" for k, v in summary["counts"].items())
    lines = [
        f"# Sweep summary: {summary['sweep_dir']}",
        "",
        f"- objective: {shown or 'not set'}",
        f"- jobs: {summary['n_jobs']} ({counts})",
    ]
    best, front = summary.get("best"), summary.get("pareto_front")
    if best:
        params = ", ".join(f"{k}={v}" for k, v in best["params"].items())
        lines.append(
            f"- best: job {best['num']} ({best['dir']}), {names[0]} = {_fmt(best['value'])}, {params}"
        )
    elif front:
        lines.append(f"- Pareto front: jobs {', '.join(str(j['num']) for j in front)} (marked *)")
    elif not directions:
        lines.append("- best: none (no optimized_direction in the sweep's config)")
    else:
        lines.append("- best: none (no job completed with a finite objective)")
    return lines


def _table(summary: Mapping[str, Any], max_metrics: int) -> list[str]:
    jobs = summary["jobs"]
    params = sorted({k for j in jobs for k in (j.get("params") or {})})
    test_metrics = sorted(
        {k for j in jobs for k in (j.get("metrics") or {}) if k.startswith("test/")}
    )[:max_metrics]
    marked = {j["num"] for j in summary.get("pareto_front") or []}
    if summary.get("best"):
        marked = {summary["best"]["num"]}
    header = ["job", "status", *params, " / ".join(_names(summary)) or "objective", *test_metrics]
    lines = ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for j in jobs:
        cells = [
            f"{_fmt(j.get('num'))}{' *' if j.get('num') in marked else ''}",
            j["status"].lower(),
        ]
        cells += [_fmt((j.get("params") or {}).get(p)) for p in params]
        cells += [_fmt(j.get("objective"))]
        cells += [_fmt((j.get("metrics") or {}).get(m)) for m in test_metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _notes(jobs: list[Mapping[str, Any]]) -> list[str]:
    lines = []
    pruned = [j for j in jobs if j.get("pruned")]
    if pruned:
        lines += ["", "## Pruned jobs", ""]
        lines += [f"- job {j.get('num')}: {_fmt(j['pruned'])[:300]}" for j in pruned]
    reruns = [j for j in jobs if j.get("rerun_of") is not None]
    if reruns:
        lines += ["", "## Reruns of interrupted jobs", ""]
        lines += [f"- job {j.get('num')} reran job {j['rerun_of']}'s parameters" for j in reruns]
    errors = [j for j in jobs if j.get("error")]
    if errors:
        lines += ["", "## Failed jobs", ""]
        lines += [f"- job {j.get('num')}: {_fmt(j['error'])[:300]}" for j in errors]
    return lines


def summary_markdown(summary: Mapping[str, Any], max_metrics: int = 4) -> str:
    lines = _head(summary) + _table(summary, max_metrics) + _notes(summary["jobs"])
    return "\n".join(lines) + "\n"
