"""FID against wall time (and iterations) for GAN runs: reads each run's
gan_metrics_history.json (written by the GAN metrics callback) and draws one curve per run.

    python scripts/plot_gan_curves.py --runs default=logs/a hinge=logs/b --out docs/gan_fid_vs_time.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cnngan.callbacks.gan_metrics import HISTORY_FILE
from cnngan.utils.json_safe import read_json


def read_curve(run_dir: Path, score: str) -> tuple[list[float], list[int], list[float]]:
    """(minutes, iterations, score) of one run's evaluations."""
    history = read_json(run_dir / HISTORY_FILE)["scores"]
    return (
        [h["time_s"] / 60 for h in history],
        [h["iteration"] for h in history],
        [h[score] for h in history],
    )


def plot(runs: dict[str, Path], out: Path, score: str = "fid", goal: float | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (by_time, by_iteration) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for label, run_dir in runs.items():
        minutes, iterations, values = read_curve(run_dir, score)
        by_time.plot(minutes, values, marker="o", label=label)
        by_iteration.plot(iterations, values, marker="o", label=label)
    for ax, xlabel in ((by_time, "wall time since fit start (min)"), (by_iteration, "iteration")):
        if goal is not None:
            ax.axhline(goal, color="grey", linestyle="--", linewidth=1)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    by_time.set_ylabel(f"val/{score} (2,000 samples vs the val split)")
    by_time.set_yscale("log")
    by_iteration.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="+", required=True, help="label=run_dir ...")
    parser.add_argument("--out", type=Path, default=Path("docs/gan_fid_vs_time.png"))
    parser.add_argument("--score", default="fid")
    parser.add_argument("--goal", type=float, default=None, help="a horizontal line, e.g. 40")
    args = parser.parse_args(argv)
    runs = dict(item.split("=", 1) for item in args.runs)
    print(plot({k: Path(v) for k, v in runs.items()}, args.out, args.score, args.goal))


if __name__ == "__main__":
    main()
