"""`python scripts/benchmark.py`: options, the run of every task, results.json, the table."""

from __future__ import annotations

import argparse
import gc
import os
import shlex
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import results as results_io
from bench import table
from bench.contenders import REPO, TASKS, compose
from bench.rounds import images_per_second, ratio_summary, run_rounds, speed_summary
from cnngan.core.speed import pin_threads

USAGE = """
    python scripts/benchmark.py                                   # both models, 3 comparisons
    python scripts/benchmark.py --tasks gan --comparisons framework,bf16 --rounds 5
    python scripts/benchmark.py --table logs/bench/<ts>/results.json   # README table from it
Results: logs/bench/<timestamp>/results.json.
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__ + USAGE, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--tasks", default="classifier,gan", help="comma-separated: classifier,gan")
    p.add_argument(
        "--comparisons",
        default="framework,competent,torch_defaults",
        help="comma-separated, of: framework, competent, torch_defaults, bf16, fast; none",
    )
    p.add_argument("--steps", type=int, default=60, help="timed steps (GAN: iterations) per run")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps before the timed ones")
    p.add_argument("--rounds", type=int, default=9, help="rounds of back-to-back pairs")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: every usable core)")
    p.add_argument(
        "--data", default=None, help="data config for every run (default: the experiments')"
    )
    p.add_argument("--startup-runs", type=int, default=2, help="cnngan-train start-ups per task")
    p.add_argument("--profile-steps", type=int, default=30, help="GAN profile iterations (0: off)")
    p.add_argument("--augment-images", type=int, default=8192, help="augmentation micro-benchmark")
    p.add_argument("--out", default=str(REPO / "logs" / "bench"), help="parent of the run folder")
    p.add_argument("--timeout", type=int, default=1800, help="seconds per start-up subprocess")
    p.add_argument("--table", metavar="RESULTS_JSON", help="only rewrite the README table from it")
    p.add_argument("--readme", default=str(REPO / "README.md"), help="README that --table writes")
    return p.parse_args(argv)


def _quiet() -> None:
    """Lightning's per-fit info lines (GPU available, max_steps reached, ...) would bury the table."""
    import logging
    import warnings

    import lightning  # noqa: F401  (sets its loggers to INFO on import: import first)

    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*(LeafSpec|does not have many workers|TF32).*")


def _names(option: str) -> list[str]:
    return [n for n in option.split(",") if n and n != "none"]


def bench_task(task: str, args: argparse.Namespace, out_dir: Path) -> dict[str, Any]:
    """Every requested comparison of one model, in alternating rounds."""
    from bench.cnngan_side import cnngan_fit
    from bench.plain import run_plain

    t = TASKS[task]
    comparisons = {n: t.comparisons[n] for n in _names(args.comparisons)}
    used = {c for comp in comparisons.values() for c in (comp.numerator, comp.denominator)}
    cfgs = {n: compose(task, t.contenders[n].overrides, out_dir / "runs", args.data) for n in used}

    def measure(name: str) -> tuple[float, float]:
        gc.collect()
        cfg = cfgs[name]
        if t.contenders[name].side == "plain":
            seconds, _ = run_plain(task, cfg, args.warmup, args.steps)
        else:
            seconds, _ = cnngan_fit(cfg, args.warmup, args.steps)
        return images_per_second(args.steps * int(cfg.data.batch_size), seconds)

    def report(r: int, name: str, speed: tuple[float, float]) -> None:
        print(
            f"  [{task} round {r + 1}/{args.rounds}] {name:<22} {speed[0]:8.0f} img/s"
            f" {speed[1]:8.0f} img/CPU-s",
            flush=True,
        )

    pairs = {n: (c.numerator, c.denominator) for n, c in comparisons.items()}
    speeds, ratios = run_rounds(pairs, args.rounds, measure, report)
    return {
        "contenders": {
            n: {
                "side": t.contenders[n].side,
                "overrides": list(t.contenders[n].overrides),
                **speed_summary(speeds[n]),
            }
            for n in sorted(used)
        },
        "comparisons": {
            n: {
                "label": c.label,
                "numerator": c.numerator,
                "denominator": c.denominator,
                **ratio_summary(ratios[n]),
            }
            for n, c in comparisons.items()
        },
    }


def settings(args: argparse.Namespace, argv: list[str] | None) -> dict[str, Any]:
    keys = ("tasks", "comparisons", "steps", "warmup", "rounds", "threads", "data")
    command = "python scripts/benchmark.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    return {**{k: getattr(args, k) for k in keys}, "command": command.strip()}


def run(args: argparse.Namespace, argv: list[str] | None) -> dict[str, Any]:
    """Measure, write results.json, print the rendered table; returns the results."""
    from bench.augment import augment_micro
    from bench.gan_profile import profile_gan
    from bench.startup import run_startup

    args.threads = pin_threads(args.threads or None)
    _quiet()
    out_dir = Path(args.out) / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    results = results_io.new_results(settings(args, argv))
    results["path"] = str(out_dir / "results.json")
    results["tasks"] = {}
    for task in _names(args.tasks):
        print(f"== {task}", flush=True)
        part = bench_task(task, args, out_dir)
        if args.startup_runs > 0:
            part["startup"] = run_startup(task, args.startup_runs, out_dir, args.data, args.timeout)
        results["tasks"][task] = part
    if "gan" in _names(args.tasks) and args.profile_steps > 0:
        cfg = compose("gan", (), out_dir / "runs", args.data)
        results["gan_profile"] = profile_gan(cfg, args.warmup, args.profile_steps)
    results["augment"] = augment_micro(args.augment_images) if args.augment_images else {}
    if hasattr(os, "getloadavg"):
        results["machine"]["load_avg_1min_at_end"] = round(os.getloadavg()[0], 2)
    results_io.save(results, out_dir / "results.json")
    print("\n" + table.render(results) + "\n", flush=True)
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.table:
        readme = table.rewrite_readme(results_io.load(args.table), Path(args.readme))
        print(f"rewrote the speed table of {readme} from {args.table}")
        return results_io.load(args.table)
    if args.warmup < 1 or args.steps < 1 or args.rounds < 1:
        raise SystemExit("--warmup, --steps and --rounds must be at least 1")
    return run(args, argv)
