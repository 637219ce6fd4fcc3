"""Test-split scores of finished GAN runs (e.g. the seeds of a recipe_trials.py candidate): one
`cnngan-eval` of each run's best-FID checkpoint per sample seed, then one table with the mean over
sample seeds per run and the mean over runs. For conditional GANs also CAS (--cas) and the
per-class scores' worst class (recall_class_min: a collapse inside one class).

    python scripts/gan_test_scores.py --runs logs/recipes/gan_cond_15min/cond_cbn_only/seed* --cas

Each evaluation goes to <run>/<--folder, default test>/seed<s>/ (its metrics.json and eval.log)
and is not rerun when its metrics.json exists; the table goes to --out (default: <runs'
parent>/<folder>_scores.md + .json). Another protocol (e.g. --extra metrics.cas.num_train=20000)
needs its own --folder.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from run_logged import QUIET, run_logged

from cnngan.core.json_safe import read_json, write_json

# (metrics.json key of cnngan-eval, table header, format)
COLUMNS = (
    ("fid", "FID", ".2f"),
    ("precision", "precision", ".3f"),
    ("recall", "recall", ".3f"),
    ("coverage", "coverage", ".3f"),
    ("cas_acc", "CAS", ".4f"),
    ("cas_real_acc", "real-data acc", ".4f"),
    ("recall_class_min", "recall class min", ".3f"),
    ("label_acc", "label acc", ".3f"),
    ("label_acc_real", "label acc, real", ".3f"),
    ("fid_class_max", "FID class max", ".1f"),
)


def evaluate_run(
    run: Path, checkpoint: str, seed: int, extra: list[str], folder: str = "test"
) -> dict[str, Any]:
    """cnngan-eval of one run's checkpoint with one sample seed (skipped when already done)."""
    out = run / folder / f"seed{seed}"
    if not (out / "metrics.json").exists():
        command = [
            sys.executable,
            "-m",
            "cnngan.eval",
            f"ckpt_path={run / 'checkpoints' / checkpoint}",
            f"metrics.seed={seed}",
            f"hydra.run.dir={out}",
            *QUIET,
            *extra,
        ]
        run_logged(command, out / "eval.log")
    return read_json(out / "metrics.json")


def worst_class(metrics: dict[str, Any]) -> int | None:
    """The class whose recall is recall_class_min."""
    recalls = {
        int(k.rsplit("/", 1)[1]): v
        for k, v in metrics.items()
        if k.startswith("recall_class/") and v is not None
    }
    return min(recalls, key=recalls.__getitem__) if recalls else None


def run_row(run: Path, per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """A run's scores: the mean over its sample seeds."""
    row: dict[str, Any] = {"run": str(run), "sample_seeds": len(per_seed)}
    for key, _, _ in COLUMNS:
        values = [m[key] for m in per_seed if m.get(key) is not None]
        row[key] = float(np.mean(values)) if values else None
    row["worst_class"] = [worst_class(m) for m in per_seed]
    return row


def markdown(rows: list[dict[str, Any]], facts: dict[str, Any]) -> str:
    """One line per run and one with the mean over runs."""

    def cell(value: float | None, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    lines = [
        f"{facts['date']}, checkpoint {facts['checkpoint']}, sample seeds {facts['seeds']}",
        "",
        "| run | " + " | ".join(header for _, header, _ in COLUMNS) + " | worst class |",
        "|---|" + "---|" * (len(COLUMNS) + 1),
    ]
    for row in rows:
        cells = " | ".join(cell(row[key], fmt) for key, _, fmt in COLUMNS)
        lines.append(f"| {row['run']} | {cells} | {row['worst_class']} |")
    means = {
        key: np.mean([r[key] for r in rows if r[key] is not None])
        if any(r[key] is not None for r in rows)
        else None
        for key, _, _ in COLUMNS
    }
    cells = " | ".join(cell(means[key], fmt) for key, _, fmt in COLUMNS)
    lines.append(f"| **mean of {len(rows)} runs** | {cells} | |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, nargs="+", required=True, help="run folders")
    parser.add_argument("--checkpoint", default="best-fid.ckpt")
    parser.add_argument("--sample-seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--cas", action="store_true", help="also CAS (conditional GANs)")
    parser.add_argument("--extra", nargs="*", default=[], help="overrides for every cnngan-eval")
    parser.add_argument("--folder", default="test", help="each run's evaluation folder")
    parser.add_argument("--out", type=Path, help="the table's .md path")
    args = parser.parse_args(argv)
    extra = [*(["metrics.cas.enabled=true"] if args.cas else []), *args.extra]
    rows = [
        run_row(
            run,
            [evaluate_run(run, args.checkpoint, s, extra, args.folder) for s in args.sample_seeds],
        )
        for run in args.runs
    ]
    facts = {
        "date": time.strftime("%Y-%m-%d"),
        "checkpoint": args.checkpoint,
        "seeds": args.sample_seeds,
        "extra": extra,
    }
    out = args.out or args.runs[0].parent / f"{args.folder}_scores.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out.with_suffix(".json"), {**facts, "runs": rows})
    out.write_text(markdown(rows, facts))
    print(out.read_text())


if __name__ == "__main__":
    main()
