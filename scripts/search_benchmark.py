#!/usr/bin/env python3
"""Parallel search speed-up: the same Optuna classifier search on the local SLURM cluster with
1 job at a time, then with 2, on one PostgreSQL server; prints wall time and best value of each.

    python scripts/search_benchmark.py                      # 12 trials, 1 vs 2 jobs (make search-bench)
    python scripts/search_benchmark.py --trials 2 --data digits --epochs 1 \
        --extra +trainer.limit_train_batches=10 +trainer.limit_val_batches=1  # a quick check

Without --slurm-conf it starts a two-node cluster (scripts/slurm_local.py, one CPU share per node)
and without --storage a private PostgreSQL server (scripts/postgres_local.py) in a temporary
folder, and stops both at the end. Each search is its own study (same sampler seed) in its own
sweep dir under --out; results.json there holds every number printed. Every job asks for one CPU
(`hydra.launcher.cpus_per_task=1`, OMP_NUM_THREADS=1), so on the two-node cluster of a 2-core
machine 2 jobs use both nodes. Needs root, slurm-wlm, munge and postgresql (see docs/search.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRAIN = str(Path(sys.executable).parent / "cnngan-train")
SLURM_JOB = [
    "hydra/launcher=slurm",
    "hydra.launcher.gpus_per_node=null",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.timeout_min=120",
]
QUIET = ["extras.print_config=false", "callbacks.rich_progress_bar=null"]


def _script(name: str, *args: str, timeout: float = 300) -> str:
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{name} {args[0]} failed:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


@contextlib.contextmanager
def slurm_cluster(slurm_conf: Path | None, nodes: int) -> Iterator[Path]:
    """The given cluster's slurm.conf, or a private cluster of `nodes` nodes for the run."""
    if slurm_conf is not None:
        yield slurm_conf
        return
    folder = Path(tempfile.mkdtemp(prefix="cnngan-bench-slurm-"))
    try:
        _script("slurm_local.py", "up", "--dir", str(folder), "--nodes", str(nodes), "--port", "0")
        yield folder / "slurm.conf"
    finally:
        _script("slurm_local.py", "down", "--dir", str(folder))
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def postgres(storage: str | None) -> Iterator[str]:
    """The given storage URL, or a private PostgreSQL server for the run."""
    if storage is not None:
        yield storage
        return
    folder = Path(tempfile.mkdtemp(prefix="cnngan-bench-postgres-"))
    try:
        _script("postgres_local.py", "up", "--dir", str(folder))
        yield (folder / "url").read_text().strip()
    finally:
        _script("postgres_local.py", "down", "--dir", str(folder))
        shutil.rmtree(folder, ignore_errors=True)


def search_args(args: argparse.Namespace, n_jobs: int, storage: str, sweep: Path) -> list[str]:
    return [
        "-m",
        *SLURM_JOB,
        *QUIET,
        "hparams_search=classifier_optuna",
        f"data={args.data}",
        f"trainer.max_epochs={args.epochs}",
        f"hydra.sweep.dir={sweep}",
        f"hydra.sweeper.storage={storage}",
        f"hydra.sweeper.study_name={sweep.name}",
        f"hydra.sweeper.n_trials={args.trials}",
        f"hydra.sweeper.n_jobs={n_jobs}",
        f"seed={args.seed}",
        f"paths.log_dir={sweep.parent / 'logs'}",
        *args.extra,
    ]


def run_search(args: argparse.Namespace, n_jobs: int, slurm_conf: Path, storage: str) -> dict:
    """One search; its wall time, best value and trial states."""
    import optuna

    sweep = args.out / f"jobs_{n_jobs}"
    env = {**os.environ, "SLURM_CONF": str(slurm_conf), "OMP_NUM_THREADS": "1"}
    log_file = args.out / f"jobs_{n_jobs}.log"
    started = time.perf_counter()
    with log_file.open("w") as out:
        proc = subprocess.run(
            [TRAIN, *search_args(args, n_jobs, storage, sweep)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wall_s = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"the search with {n_jobs} job(s) failed; see {log_file}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=sweep.name, storage=storage)
    states = [t.state.name for t in study.trials]
    return {
        "n_jobs": n_jobs,
        "wall_s": round(wall_s, 1),
        "best_value": study.best_value,
        "best_params": study.best_params,
        "states": {s: states.count(s) for s in sorted(set(states))},
        "sweep_dir": str(sweep),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=12, help="trials per search")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="parallel jobs")
    parser.add_argument("--data", default="fashion_mnist", help="data config (digits: tiny)")
    parser.add_argument("--epochs", type=int, default=2, help="trainer.max_epochs per trial")
    parser.add_argument("--seed", type=int, default=12345, help="seed of runs and sampler")
    parser.add_argument("--nodes", type=int, default=2, help="nodes of the cluster it starts")
    parser.add_argument("--slurm-conf", type=Path, help="use this running cluster instead")
    parser.add_argument("--storage", help="use this storage URL instead of a private server")
    parser.add_argument(
        "--out", type=Path, help="output folder (default logs/search_benchmark/<time>)"
    )
    parser.add_argument("--extra", nargs="*", default=[], help="more cnngan-train overrides")
    args = parser.parse_args(argv)
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    args.out = (args.out or REPO / "logs" / "search_benchmark" / stamp).resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    with slurm_cluster(args.slurm_conf, args.nodes) as conf, postgres(args.storage) as storage:
        for n_jobs in args.jobs:
            results.append(run_search(args, n_jobs, conf, storage))
            print(
                f"{n_jobs} job(s): {results[-1]['wall_s']:.1f} s, best {results[-1]['best_value']:.4f}"
            )
    summary = {"command": sys.argv, "date": stamp, "trials": args.trials, "results": results}
    (args.out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("\n| parallel jobs | wall time (s) | best value | trials |\n|---|---|---|---|")
    for r in results:
        print(f"| {r['n_jobs']} | {r['wall_s']:.1f} | {r['best_value']:.4f} | {r['states']} |")
    if len(results) > 1:
        print(
            f"speed-up {results[0]['wall_s'] / results[-1]['wall_s']:.2f}x; {args.out / 'results.json'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
