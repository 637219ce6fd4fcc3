"""A speed lever (any config overrides) against the recipe without it, as `make bench` runs
cnngan (Lightning Trainer, no logger, progress bar or validation): images per second of each,
the two alternating run by run (ABBA order) so drift in the machine's speed hits both alike, and
the lever's speed-up as the median of the paired ratios. What a lever does to quality (FID,
accuracy) is a training run's question; this script measures only the step.

    python scripts/lever_study.py --task gan --lever model.d_joint_batch=true
    python scripts/lever_study.py --task gan --base experiment=gan_dcgan_cond \\
        --lever model.reuse_fake=true --precisions bf16-mixed,32-true --repeats 4

Results: logs/bench/lever_<timestamp>.json and a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the bench package
    sys.path.insert(0, str(HERE))

import torch  # noqa: E402
from bench.cli import _quiet  # noqa: E402
from bench.contenders import REPO  # noqa: E402
from bench.results import new_results  # noqa: E402
from bench.timed_fit import timed_fit  # noqa: E402

from cnngan.core.json_safe import write_json  # noqa: E402


def abba(repeats: int) -> list[str]:
    """Run order: base, lever, lever, base, base, lever, ... (`repeats` of each)."""
    pairs = [("base", "lever") if i % 2 == 0 else ("lever", "base") for i in range(repeats)]
    return [name for pair in pairs for name in pair]


def compare(args: argparse.Namespace, precision: str) -> dict[str, Any]:
    runs: dict[str, list[dict[str, float]]] = {"base": [], "lever": []}
    for name in abba(args.repeats):
        extra = args.lever if name == "lever" else []
        overrides = (*args.base, f"trainer.precision={precision}", *extra)
        row = timed_fit(args.task, overrides, args.warmup, args.steps, args.data)
        runs[name].append(row)
        print(f"  {args.task} {precision} {name}: {row}", flush=True)
    ratios = [
        lever["img_per_s"] / base["img_per_s"]
        for base, lever in zip(runs["base"], runs["lever"], strict=True)
    ]
    medians = {name: statistics.median(r["img_per_s"] for r in rows) for name, rows in runs.items()}
    return {"img_per_s": medians, "speedup": statistics.median(ratios), "ratios": ratios} | runs


def markdown(args: argparse.Namespace, results: dict[str, Any]) -> str:
    lines = [
        f"base: `{' '.join(args.base) or '(the task default)'}`; lever: `{' '.join(args.lever)}`",
        "",
        "| model / precision | base img/s | lever img/s | speed-up (median of pairs) | pairs |",
        "|---|---|---|---|---|",
    ]
    for precision, r in results.items():
        pairs = ", ".join(f"{x:.3f}" for x in r["ratios"])
        lines.append(
            f"| {args.task} / {precision} | {r['img_per_s']['base']:.0f} | "
            f"{r['img_per_s']['lever']:.0f} | {r['speedup']:.3f}x | {pairs} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="gan", choices=("classifier", "gan"))
    parser.add_argument("--base", nargs="*", default=[], help="overrides of both sides")
    parser.add_argument("--lever", nargs="+", required=True, help="overrides of the lever side")
    parser.add_argument("--precisions", default="bf16-mixed")
    parser.add_argument("--data", default=None, help="data config (default: the experiment's)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed first steps")
    parser.add_argument("--steps", type=int, default=300, help="timed steps after them")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    _quiet()
    results = {p: compare(args, p) for p in args.precisions.split(",")}
    out = REPO / "logs" / "bench" / f"lever_{time.strftime('%Y-%m-%d_%H-%M-%S')}.json"
    write_json(out, {**new_results(vars(args)), "results": results})
    print(markdown(args, results))
    print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
