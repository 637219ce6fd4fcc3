"""`model.compile=true` against eager, as `make bench` runs cnngan (Lightning Trainer, no logger,
progress bar or validation): per model and precision, the seconds of the first steps (where
torch.compile compiles), the step speed after them, and what Dynamo reports (graphs compiled,
graph breaks, recompilations), which says why a compiled step is or is not faster.

    python scripts/compile_study.py                       # both models, fp32 and bf16, 2 repeats
    python scripts/compile_study.py --tasks gan --precisions 32-true --repeats 1
    python scripts/compile_study.py --compile "{mode: max-autotune-no-cudagraphs}"

Each configuration runs `--repeats` times, eager and compiled alternating; the table has the
medians. Results: logs/bench/compile_<timestamp>.json and a markdown table on stdout.
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


def dynamo_counts() -> dict[str, int]:
    """Graphs compiled, graph breaks and recompilations since the last `torch._dynamo.reset()`."""
    from torch._dynamo.utils import counters

    return {
        "graphs": int(counters["stats"]["unique_graphs"]),
        "graph_breaks": int(sum(counters["graph_break"].values())),
        "recompiles": int(sum(counters["recompiles"].values())),
    }


def measure(
    task: str,
    precision: str,
    compiled: bool,
    warmup: int,
    steps: int,
    cold: bool = True,
    data: str | None = None,
    setting: str = "true",
) -> dict[str, Any]:
    """One fit: seconds of the first `warmup` steps (compilation included), then images/s.
    `cold`: without Inductor's on-disk caches, as a user's first compiled run on a machine.
    `setting`: the compiled run's `model.compile` value (true, or torch.compile's options)."""
    import torch._dynamo
    import torch._inductor.config

    torch._dynamo.reset()
    from torch._dynamo.utils import counters

    counters.clear()
    overrides = (
        f"trainer.precision={precision}",
        f"model.compile={setting if compiled else 'false'}",
    )
    with torch._inductor.config.patch(force_disable_caches=cold):
        row = timed_fit(task, overrides, warmup, steps, data=data)
    return {key: row[key] for key in ("first_steps_s", "img_per_s")} | dynamo_counts()


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for task in args.tasks.split(","):
        for precision in args.precisions.split(","):
            runs: dict[str, list[dict[str, Any]]] = {"eager": [], "compiled": []}
            for _ in range(args.repeats):
                for name in runs:
                    compiled = name == "compiled"
                    row = measure(
                        task,
                        precision,
                        compiled,
                        args.warmup,
                        args.steps,
                        args.cold,
                        setting=args.compile,
                    )
                    runs[name].append(row)
                    print(f"  {task} {precision} {name}: {row}", flush=True)
            results[f"{task}/{precision}"] = {name: summary(rows) for name, rows in runs.items()}
    return results


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {key: statistics.median(r[key] for r in rows) for key in rows[0]} | {"runs": rows}


def markdown(results: dict[str, Any], warmup: int) -> str:
    lines = [
        f"| model / precision | eager img/s | compiled img/s | speed-up | first {warmup} steps "
        "eager / compiled (s) | graphs | graph breaks | recompiles |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, r in results.items():
        e, c = r["eager"], r["compiled"]
        lines.append(
            f"| {key} | {e['img_per_s']:.0f} | {c['img_per_s']:.0f} | "
            f"{c['img_per_s'] / e['img_per_s']:.2f}x | {e['first_steps_s']:.1f} / "
            f"{c['first_steps_s']:.1f} | {c['graphs']:.0f} | {c['graph_breaks']:.0f} | "
            f"{c['recompiles']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="classifier,gan")
    parser.add_argument("--precisions", default="32-true,bf16-mixed")
    parser.add_argument("--warmup", type=int, default=20, help="untimed first steps")
    parser.add_argument("--steps", type=int, default=200, help="timed steps after them")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    parser.add_argument(
        "--cold",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="compile without Inductor's caches (--no-cold: reuse them, a repeated run)",
    )
    parser.add_argument(
        "--compile",
        default="true",
        help="the compiled runs' model.compile: true, or torch.compile's options as a Hydra "
        'value, e.g. "{mode: max-autotune-no-cudagraphs}"',
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    _quiet()
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    results = run(args)
    table = markdown(results, args.warmup)
    out = REPO / "logs" / "bench" / f"compile_{stamp}.json"
    write_json(out, {**new_results(vars(args)), "results": results})
    print(table)
    print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
