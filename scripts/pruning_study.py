"""Does Optuna pruning pay? The same classifier search run twice, with the same sampler seed:
hydra.sweeper.pruner=median against pruner=none. Reports, for each, the total wall time, the
trials pruned and the best value, and the saving; writes pruning_study.json and pruning_study.md
to --out (each search's sweep folder, with its study and summary, is kept next to them).

    python scripts/pruning_study.py                       # 12 trials, 10k images, 4 epochs each
    python scripts/pruning_study.py --trials 3 --epochs 2 --subset 0 --extra data=digits \\
        +trainer.limit_train_batches=10                    # a smoke run (seconds)

Both searches share the machine's state: on a shared CPU, run it when the machine is quiet
(README, "Speed"), or use --repeats 2 (the order of the two searches alternates).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from run_logged import TRAIN_QUIET, run_logged

from cnngan.core.json_safe import write_json


def search_command(args: argparse.Namespace, pruner: str, sweep_dir: Path) -> list[str]:
    """The `cnngan-train` command of one search."""
    overrides = [
        "hparams_search=classifier_optuna",
        f"hydra.sweeper.n_trials={args.trials}",
        f"hydra.sweeper.pruner={pruner}",
        f"seed={args.seed}",
        f"trainer.max_epochs={args.epochs}",
        f"hydra.sweep.dir={sweep_dir}",
        *TRAIN_QUIET,
    ]
    if args.subset:
        overrides.append(f"data.train_subset={args.subset}")
    if pruner != "none" and args.pruner_args:
        overrides.append(f"hydra.sweeper.pruner_args={args.pruner_args}")
    return [sys.executable, "-m", "cnngan.train", *overrides, *args.extra]


def run_search(args: argparse.Namespace, pruner: str, sweep_dir: Path) -> dict[str, Any]:
    """Run one search; return its wall time and what its study holds."""
    command = search_command(args, pruner, sweep_dir)
    started = time.perf_counter()
    run_logged(command, sweep_dir / "search.log")
    wall_s = time.perf_counter() - started
    return {
        "pruner": pruner,
        "wall_s": wall_s,
        "sweep_dir": str(sweep_dir),
        **study_facts(sweep_dir),
    }


def study_facts(sweep_dir: Path) -> dict[str, Any]:
    """Trials by state, the best value and each trial's epochs and duration, from the study."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{sweep_dir}/optuna.db"
    (name,) = optuna.get_all_study_names(storage)
    study = optuna.load_study(study_name=name, storage=storage)
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    return {
        "n_trials": len(trials),
        "pruned": sum(t.state.name == "PRUNED" for t in trials),
        "failed": sum(t.state.name == "FAIL" for t in trials),
        "best_value": study.best_value if complete else None,
        "best_params": study.best_params if complete else None,
        "trials": [
            {
                "number": t.number,
                "state": t.state.name,
                "value": t.value,
                "epochs_reported": len(t.intermediate_values),
                "duration_s": t.duration.total_seconds() if t.duration else None,
                "params": t.params,
            }
            for t in trials
        ],
    }


def compare(runs: list[dict[str, Any]], pruner: str = "median") -> dict[str, Any]:
    """Mean wall time and best value per pruner; the saving and the gap of the pruned search."""
    by = {p: [r for r in runs if r["pruner"] == p] for p in ("none", pruner)}
    wall = {p: sum(r["wall_s"] for r in rs) / len(rs) for p, rs in by.items()}
    best = {p: max((r["best_value"] or float("-inf")) for r in rs) for p, rs in by.items()}
    return {
        "wall_s": wall,
        "best_value": best,
        "pruned": {p: [r["pruned"] for r in rs] for p, rs in by.items()},
        "wall_time_saved": 1 - wall[pruner] / wall["none"],
        "best_gap_points": 100 * (best["none"] - best[pruner]),
    }


def markdown(args: argparse.Namespace, runs: list[dict[str, Any]], result: dict[str, Any]) -> str:
    lines = [
        f"# Pruning study: {args.pruner} pruner vs no pruning",
        "",
        f"Classifier search (hparams_search=classifier_optuna), {args.trials} trials, up to "
        f"{args.epochs} epochs, train subset {args.subset or 'all'}, seed {args.seed}, "
        f"{args.pruner} pruner {args.pruner_args}, extra overrides: {' '.join(args.extra) or 'none'}.",
        "",
        "| pruner | wall time (s) | trials pruned | failed | best val/acc_best |",
        "|---|---|---|---|---|",
    ]
    for run in runs:
        best = "" if run["best_value"] is None else f"{run['best_value']:.4f}"
        lines.append(
            f"| {run['pruner']} | {run['wall_s']:.1f} | {run['pruned']}/{run['n_trials']} "
            f"| {run['failed']} | {best} |"
        )
    lines += [
        "",
        f"Wall time saved by pruning: {100 * result['wall_time_saved']:.1f}% "
        f"(goal: at least 40%); best value gap: {result['best_gap_points']:.2f} points "
        "(goal: within 0.5).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--subset", type=int, default=10000, help="data.train_subset (0: all)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the runs and the sampler")
    parser.add_argument(
        "--pruner", default="median", choices=["median", "hyperband", "successive_halving"]
    )
    parser.add_argument("--pruner-args", default="{n_startup_trials:3,n_warmup_steps:0}")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("logs/pruning_study"))
    parser.add_argument("--extra", nargs="*", default=[], help="more cnngan-train overrides")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    runs = []
    for repeat in range(args.repeats):
        order = ("none", args.pruner) if repeat % 2 == 0 else (args.pruner, "none")
        for pruner in order:
            runs.append(run_search(args, pruner, out / f"{pruner}_{repeat}"))
    result = compare(runs, args.pruner)
    report = {"settings": {k: str(v) for k, v in vars(args).items()}, "runs": runs, **result}
    write_json(out / "pruning_study.json", report)
    (out / "pruning_study.md").write_text(markdown(args, runs, result))
    print((out / "pruning_study.md").read_text())


if __name__ == "__main__":
    main()
