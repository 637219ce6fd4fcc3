"""Time-to-accuracy trials: named candidate recipes x seeds, one `cnngan-train` run each, run one
after another (never in parallel: on a small CPU, parallel runs time each other). Every candidate
tried stays in the table, not only the winner; choose on `val/acc_best`, report `test/acc`.

    python scripts/recipe_trials.py --candidates docs/recipes/classifier_3min.yaml --seeds 1 2 3
    python scripts/recipe_trials.py --candidates <yaml> --only bf16_flip12 --seeds 1

The candidates file maps a name to a list of Hydra overrides (and an optional `note`). An optional
`base:` list comes before every candidate's overrides: a screen written against earlier defaults
pins them there and stays reproducible after the defaults move. Results go
to --out/<name>/seed<s>/ (each run's own folder with its metrics.json) and are summarized into
--out/trials.json and --out/trials.md; runs already done (metrics.json present) are not rerun,
so an interrupted study continues where it stopped.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from run_logged import TRAIN_QUIET, run_logged

from cnngan.core.json_safe import read_json, write_json
from cnngan.core.speed import cpu_model
from cnngan.run.precision import cpu_flags

QUIET = [*TRAIN_QUIET, "logger=csv"]
# (metrics.json key, table header, scale, format) of a classifier's and of a GAN's table
CLASSIFIER_COLUMNS = (
    ("val/acc_best", "val acc best (%)", 100, ".2f"),
    ("test/acc", "test acc (%)", 100, ".2f"),
    ("time/wall_s", "wall time (s)", 1, ".0f"),
)
GAN_COLUMNS = (
    ("val/fid_best", "val FID best", 1, ".1f"),
    ("val/fid", "val FID final", 1, ".1f"),
    ("time/wall_s", "wall time (s)", 1, ".0f"),
)


def cpu_facts() -> dict[str, Any]:
    """CPU model and the flags that decide bf16 speed: numbers are only comparable on one machine."""
    flags = cpu_flags()
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
    return {"cpu": cpu_model(), "cpu_flags": [f for f in wanted if f in flags]}


def run_one(name: str, overrides: list[str], seed: int, out: Path, extra: list[str]) -> Path:
    """Train one candidate with one seed (skipped when its metrics.json already exists)."""
    run_dir = out / name / f"seed{seed}"
    if (run_dir / "metrics.json").exists():
        return run_dir
    command = [
        sys.executable,
        "-m",
        "cnngan.train",
        *overrides,
        f"seed={seed}",
        f"hydra.run.dir={run_dir}",
        *QUIET,
        *extra,
    ]
    run_logged(command, run_dir / "train.log")
    return run_dir


def run_metrics(run_dir: Path) -> dict[str, Any]:
    """A run's metrics.json, plus `val/fid_best` (the lowest val/fid of the run's
    gan_metrics_history.json) for a GAN: the value its best-fid.ckpt was kept for."""
    metrics = read_json(run_dir / "metrics.json")
    history = run_dir / "gan_metrics_history.json"
    if history.exists():
        fids = [s["fid"] for s in read_json(history)["scores"] if s.get("fid") is not None]
        metrics["val/fid_best"] = min(fids) if fids else None
    return metrics


def columns_for(rows: list[dict[str, Any]]) -> tuple[tuple[str, str, float, str], ...]:
    """GAN columns when any candidate reports a val FID, else the classifier's."""
    return GAN_COLUMNS if any(row.get("val/fid") for row in rows) else CLASSIFIER_COLUMNS


def summarize(name: str, spec: dict[str, Any], run_dirs: list[Path]) -> dict[str, Any]:
    """Per-seed values and their mean for one candidate."""
    per_seed = [run_metrics(d) for d in run_dirs]
    row: dict[str, Any] = {
        "name": name,
        "overrides": spec["overrides"],
        "note": spec.get("note", ""),
        "seeds": len(per_seed),
    }
    for key in dict.fromkeys(c[0] for c in CLASSIFIER_COLUMNS + GAN_COLUMNS):  # each key once
        values = [m.get(key) for m in per_seed if m.get(key) is not None]
        row[key] = values
        row[key + "/mean"] = float(np.mean(values)) if values else None
    return row


def markdown(rows: list[dict[str, Any]], facts: dict[str, Any]) -> str:
    """The table of every candidate: per-seed values and means."""

    def cell(row: dict[str, Any], key: str, scale: float, fmt: str) -> str:
        values = " / ".join(format(v * scale, fmt) for v in row[key])
        mean = row[key + "/mean"]
        return f"{values} (mean {mean * scale:{fmt}})" if len(row[key]) > 1 else values

    columns = columns_for(rows)
    extra = f", extra overrides: `{' '.join(facts['extra'])}`" if facts.get("extra") else ""
    if facts.get("base"):
        extra += f", before every candidate's overrides: `{' '.join(facts['base'])}`"
    lines = [
        f"CPU: {facts['cpu']} (flags: {', '.join(facts['cpu_flags'])}), {facts['date']}{extra}",
        "",
        "| candidate | overrides | seeds | " + " | ".join(c[1] for c in columns) + " |",
        "|---|---|---|" + "---|" * len(columns),
    ]
    for row in rows:
        cells = " | ".join(cell(row, key, scale, fmt) for key, _, scale, fmt in columns)
        overrides = " ".join(row["overrides"]) or "(defaults)"
        lines.append(f"| {row['name']} | `{overrides}` | {row['seeds']} | {cells} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--only", nargs="*", help="run only these candidates (the table keeps all)")
    parser.add_argument("--out", type=Path, default=Path("logs/recipes"))
    parser.add_argument("--extra", nargs="*", default=[], help="overrides added to every run")
    args = parser.parse_args(argv)
    candidates = yaml.safe_load(args.candidates.read_text())
    base = candidates.pop("base", [])
    out = args.out / args.candidates.stem
    for name, spec in candidates.items():
        if args.only and name not in args.only:
            continue
        for seed in args.seeds:
            run_one(name, [*base, *spec["overrides"]], seed, out, args.extra)
    rows = []
    for name, spec in candidates.items():
        done = sorted(
            (d for d in (out / name).glob("seed*") if (d / "metrics.json").exists()),
            key=lambda d: int(d.name[4:]),
        )
        if done:
            rows.append(summarize(name, spec, done))
    facts = {**cpu_facts(), "date": time.strftime("%Y-%m-%d"), "base": base, "extra": args.extra}
    write_json(out / "trials.json", {**facts, "candidates": rows})
    (out / "trials.md").write_text(markdown(rows, facts))
    print((out / "trials.md").read_text())


if __name__ == "__main__":
    main()
