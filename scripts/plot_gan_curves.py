"""FID against wall time (and iterations) for GAN runs: reads each run's
gan_metrics_history.json (written by the GAN metrics callback) and draws one curve per run.

    python scripts/plot_gan_curves.py --runs default=logs/a hinge=logs/b --out docs/gan_fid_vs_time.png

A run resumed into a new folder is one curve: `label=logs/first+logs/resumed` (the resumed part's
clock continues from the first part's last evaluation). Runs screened next to others on a shared
CPU have no meaningful wall time: `--untimed label ...` draws them against iterations only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cnngan.callbacks.gan_metrics import HISTORY_FILE
from cnngan.core.json_safe import read_json


def read_curve(run_dirs: list[Path], score: str) -> tuple[list[float], list[int], list[float]]:
    """(minutes, iterations, score) of one run's evaluations, over the folders of its parts."""
    minutes: list[float] = []
    iterations: list[int] = []
    values: list[float] = []
    for run_dir in run_dirs:
        offset = minutes[-1] if minutes else 0.0
        for h in read_json(run_dir / HISTORY_FILE)["scores"]:
            minutes.append(offset + h["time_s"] / 60)
            iterations.append(h["iteration"])
            values.append(h[score])
    return minutes, iterations, values


def plot(
    runs: dict[str, list[Path]],
    out: Path,
    score: str = "fid",
    goal: float | None = None,
    untimed: frozenset[str] = frozenset(),
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (by_time, by_iteration) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for label, run_dir in runs.items():
        minutes, iterations, values = read_curve(run_dir, score)
        line = by_iteration.plot(iterations, values, marker="o", label=label)[0]
        if label not in untimed:
            by_time.plot(minutes, values, marker="o", label=label, color=line.get_color())
    for ax, xlabel in ((by_time, "wall time since fit start (min)"), (by_iteration, "iteration")):
        if goal is not None:
            ax.axhline(goal, color="grey", linestyle="--", linewidth=1)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    by_time.set_ylabel(f"val/{score} (2,000 samples vs the val split)")
    by_time.set_yscale("log")
    by_time.set_title("runs timed alone on the machine", fontsize=10)
    by_iteration.set_title("every run", fontsize=10)
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
    parser.add_argument("--untimed", nargs="*", default=[], help="labels drawn by iteration only")
    args = parser.parse_args(argv)
    runs = dict(item.split("=", 1) for item in args.runs)
    parts = {label: [Path(p) for p in dirs.split("+")] for label, dirs in runs.items()}
    print(plot(parts, args.out, args.score, args.goal, frozenset(args.untimed)))


if __name__ == "__main__":
    main()
