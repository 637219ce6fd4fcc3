"""`python scripts/benchmark.py`: options, the run of every task, results.json, the table."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import results as results_io
from bench import table
from bench.contenders import REPO, compose
from bench.presets import PRESETS, estimate_seconds, expand_comparisons
from bench.task import bench_task, calibrate, names
from cnngan.core.allocator import keep_freed_memory
from cnngan.core.speed import pin_threads

USAGE = """
    python scripts/benchmark.py --full                            # what `make bench` runs
    python scripts/benchmark.py --quick                           # a smoke run, 1-2 minutes
    python scripts/benchmark.py --tasks gan --comparisons framework,bf16 --rounds 5
    python scripts/benchmark.py --table logs/bench/<ts>/results.json   # docs/speed.md's table
Results: logs/bench/<timestamp>/results.json. Explicit options override a preset's.
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__ + USAGE, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for name in PRESETS:
        p.add_argument(
            f"--{name}", dest="preset", action="store_const", const=name, help=f"preset: {name}"
        )
    p.add_argument("--tasks", default="classifier,gan", help="comma-separated: classifier,gan")
    p.add_argument(
        "--comparisons",
        default="framework,competent,torch_defaults",
        help="comma-separated, of: framework, competent, torch_defaults, bf16, fast, "
        "bf16-if-native (bf16 where precision=auto picks it); none",
    )
    p.add_argument("--steps", type=int, default=200, help="timed steps (GAN: iterations) per run")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps before the timed ones")
    p.add_argument("--rounds", type=int, default=10, help="rounds; each measures every pair once")
    p.add_argument(
        "--block",
        type=int,
        default=25,
        help="steps per interleaved block of a cnngan/plain pair (0: the two run one after the "
        "other)",
    )
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: every usable core)")
    p.add_argument(
        "--keep-freed-memory",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="glibc's malloc keeps freed memory, as cnngan-train does (extras.keep_freed_memory); "
        "for the whole process, so both sides of a pair get it",
    )
    p.add_argument(
        "--data", default=None, help="data config for every run (default: the experiments')"
    )
    p.add_argument("--startup-runs", type=int, default=2, help="cnngan-train start-ups per task")
    p.add_argument("--profile-steps", type=int, default=30, help="GAN profile iterations (0: off)")
    p.add_argument("--augment-images", type=int, default=8192, help="augmentation micro-benchmark")
    p.add_argument(
        "--utilisation",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="count each step's FLOPs and time the machine's peak (matmul, convolution)",
    )
    p.add_argument("--quick-peaks", action="store_true", help="smaller peak matmul/convolution")
    p.add_argument(
        "--estimate",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="time one pair per model first and print the run's expected duration",
    )
    p.add_argument("--out", default=str(REPO / "logs" / "bench"), help="parent of the run folder")
    p.add_argument("--timeout", type=int, default=1800, help="seconds per start-up subprocess")
    p.add_argument("--table", metavar="RESULTS_JSON", help="only rewrite the speed table from it")
    p.add_argument(
        "--readme", default=str(table.PAGE), help="page whose speed table --table rewrites"
    )
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Options; a preset (--quick, --full) sets defaults that explicit options override."""
    parser = build_parser()
    preset = parser.parse_known_args(argv)[0].preset
    if preset:
        parser.set_defaults(**PRESETS[preset])
    args = parser.parse_args(argv)
    if "bf16-if-native" in args.comparisons:
        auto = results_io.machine()["precision_auto"]["precision"]
        args.comparisons = expand_comparisons(args.comparisons, auto)
    return args


def _quiet() -> None:
    """Lightning's per-fit info lines (GPU available, max_steps reached, ...) would bury the table."""
    import logging
    import warnings

    import lightning  # noqa: F401  (sets its loggers to INFO on import: import first)

    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*(LeafSpec|does not have many workers|TF32).*")


def settings(args: argparse.Namespace, argv: list[str] | None) -> dict[str, Any]:
    keys = ("preset", "tasks", "comparisons", "steps", "warmup", "rounds", "block", "threads")
    keys += ("keep_freed_memory",)
    command = "python scripts/benchmark.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    return {**{k: getattr(args, k) for k in (*keys, "data")}, "command": command.strip()}


def announce_duration(args: argparse.Namespace, out_dir: Path) -> dict[str, Any]:
    """Time one short pair per model, print the run's expected duration; the calibration."""
    calibration = {task: calibrate(task, args, out_dir) for task in names(args.tasks)}
    seconds = estimate_seconds(calibration, args)
    per_step = ", ".join(
        f"{task}: cnngan {1000 * c['per_step']['cnngan']:.0f} ms/step, plain loop "
        f"{1000 * c['per_step']['plain']:.0f} ms/step, {c['build_s']:.0f} s per pair's set-up"
        for task, c in calibration.items()
    )
    print(f"expected duration: about {seconds / 60:.0f} min ({per_step})", flush=True)
    return {"calibration": calibration, "estimated_s": seconds}


def run(args: argparse.Namespace, argv: list[str] | None) -> dict[str, Any]:
    """Measure, write results.json, print the rendered table; returns the results."""
    from bench.gan_profile import profile_gan
    from bench.image_transforms import augment_micro
    from bench.startup import run_startup
    from bench.utilisation import measure_utilisation

    args.threads = pin_threads(args.threads or None)
    # set before any run allocates; False where the C library is not glibc
    args.keep_freed_memory = args.keep_freed_memory and keep_freed_memory()
    _quiet()
    started = time.perf_counter()
    out_dir = Path(args.out) / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    results = results_io.new_results(settings(args, argv))
    results["path"] = str(out_dir / "results.json")
    if args.estimate:
        results["duration"] = announce_duration(args, out_dir)
    results["tasks"] = {}
    for task in names(args.tasks):
        print(f"== {task}", flush=True)
        part = bench_task(task, args, out_dir)
        if args.startup_runs > 0:
            part["startup"] = run_startup(task, args.startup_runs, out_dir, args.data, args.timeout)
        results["tasks"][task] = part
    if "gan" in names(args.tasks) and args.profile_steps > 0:
        cfg = compose("gan", (), out_dir / "runs", args.data)
        results["gan_profile"] = profile_gan(cfg, args.warmup, args.profile_steps)
    if args.utilisation and any(part["contenders"] for part in results["tasks"].values()):
        print("== utilisation (FLOPs counted, peaks timed)", flush=True)
        results["utilisation"] = measure_utilisation(
            results["tasks"], out_dir / "runs", args.data, args.quick_peaks
        )
    results["augment"] = augment_micro(args.augment_images) if args.augment_images else {}
    if hasattr(os, "getloadavg"):
        results["machine"]["load_avg_1min_at_end"] = round(os.getloadavg()[0], 2)
    results.setdefault("duration", {})["measured_s"] = time.perf_counter() - started
    results_io.save(results, out_dir / "results.json")
    print("\n" + table.render(results) + "\n", flush=True)
    return results


def write_table(args: argparse.Namespace) -> dict[str, Any]:
    """--table: the page's speed tables from one results.json (a missing file or page, or a page
    without the markers, is the user's to fix: one message, exit status 2)."""
    try:
        results = results_io.load(args.table)
        source = Path(args.table).resolve()
        results["source"] = str(source.relative_to(REPO) if source.is_relative_to(REPO) else source)
        page = table.rewrite_readme(results, Path(args.readme))
    except (OSError, ValueError) as error:
        build_parser().error(f"--table {args.table} --readme {args.readme}: {error}")
    print(f"rewrote the speed table of {page} from {args.table}")
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.table:
        return write_table(args)
    if args.warmup < 1 or args.steps < 1 or args.rounds < 1:  # argparse exits with status 2
        build_parser().error("--warmup, --steps and --rounds must be at least 1")
    return run(args, argv)
