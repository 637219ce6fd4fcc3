"""What `extras.keep_freed_memory` (glibc's malloc keeps freed memory; cnngan.core.allocator)
does to cnngan's training step: step time, page faults and kernel time per step, with and
without it, each run in a fresh process (the setting is per process and cannot be undone), the
two alternating (ABBA) so that a drifting load hits both alike.

    python scripts/allocator_study.py                              # both models, 4 pairs each
    python scripts/allocator_study.py --tasks classifier --pairs 6 --precision 32-true

Each run is cnngan's fit as `make bench` runs it (Lightning Trainer, no logger, progress bar or
validation), `--steps` timed steps after `--warmup`. The ratio of a pair is the step time without
the setting over the step time with it (above 1: the setting is faster); the summary gives the
geometric mean and its 95% t-interval. Results: logs/bench/allocator_<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the bench package
    sys.path.insert(0, str(HERE))

from bench.contenders import REPO  # noqa: E402
from bench.stats import log_ratio_interval  # noqa: E402

CHILD = "--child"


def usage() -> tuple[int, float]:
    """(minor page faults, kernel CPU seconds) of this process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_minflt, r.ru_stime


def child(task: str, keep: bool, precision: str, warmup: int, steps: int) -> dict[str, Any]:
    """One fit in this (fresh) process; its step time and per-step page faults and kernel time."""
    from bench.cli import _quiet
    from bench.cnngan_side import cnngan_fit
    from bench.contenders import compose

    from cnngan.core.allocator import keep_freed_memory
    from cnngan.core.speed import pin_threads

    kept = keep_freed_memory() if keep else False
    pin_threads()
    _quiet()
    at: dict[str, tuple[int, float]] = {}
    with tempfile.TemporaryDirectory(prefix="allocator_study_") as scratch:
        cfg = compose(task, (f"trainer.precision={precision}",), Path(scratch))
        (wall, cpu), _ = cnngan_fit(cfg, warmup, steps, on_window=lambda e: at.update({e: usage()}))
    (f0, s0), (f1, s1) = at["start"], at["stop"]
    return {
        "kept": kept,
        "ms_per_step": 1e3 * wall / steps,
        "cpu_ms_per_step": 1e3 * cpu / steps,
        "faults_per_step": (f1 - f0) / steps,
        "kernel_ms_per_step": 1e3 * (s1 - s0) / steps,
    }


def run_child(task: str, keep: bool, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, CHILD, task, "keep" if keep else "default"]
    command += [args.precision, str(args.warmup), str(args.steps)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=args.timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def study(task: str, args: argparse.Namespace) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"default": [], "keep": []}
    for pair in range(args.pairs):
        order = (False, True) if pair % 2 == 0 else (True, False)
        for keep in order:
            result = run_child(task, keep, args)
            runs["keep" if keep else "default"].append(result)
            print(f"{task} pair {pair + 1}/{args.pairs} {'keep' if keep else 'default':7s} "
                  f"{result['ms_per_step']:6.2f} ms/step, {result['faults_per_step']:7.1f} faults"
                  f"/step, {result['kernel_ms_per_step']:5.2f} kernel ms/step", flush=True)  # fmt: skip
    ratios = [d["ms_per_step"] / k["ms_per_step"] for d, k in zip(*runs.values(), strict=True)]
    return {"runs": runs, "speedup": log_ratio_interval(ratios) | {"per_pair": ratios}}


def row(task: str, part: dict[str, Any]) -> str:
    def median(side: str, key: str) -> float:
        values = sorted(r[key] for r in part["runs"][side])
        return values[len(values) // 2]

    s = part["speedup"]
    cells = [
        f"{median(side, key):.{digits}f}"
        for key, digits in (("ms_per_step", 2), ("faults_per_step", 0), ("kernel_ms_per_step", 2))
        for side in ("default", "keep")
    ]
    interval = f"**{s['gmean']:.3f}** [{s['t_low']:.3f}, {s['t_high']:.3f}]"
    return f"| {task} | " + " | ".join(cells) + f" | {interval} |"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == CHILD:
        task, mode, precision, warmup, steps = sys.argv[2:7]
        print(json.dumps(child(task, mode == "keep", precision, int(warmup), int(steps))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=["classifier", "gan"])
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--precision", default="32-true", help="trainer.precision of every run")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--timeout", type=int, default=900, help="seconds per run")
    parser.add_argument("--out", type=Path, default=REPO / "logs" / "bench", help="results folder")
    args = parser.parse_args()
    results = {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "python scripts/allocator_study.py " + " ".join(sys.argv[1:]),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "tasks": {task: study(task, args) for task in args.tasks},
    }
    from bench.results import machine

    results["machine"] = machine()
    out = args.out / f"allocator_{datetime.now():%Y-%m-%d_%H-%M-%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print("\n| model | ms/step, default | ms/step, kept | faults/step, default | faults/step, "
          "kept | kernel ms/step, default | kernel ms/step, kept | speed-up (kept) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for task, part in results["tasks"].items():
        print(row(task, part))
    print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
