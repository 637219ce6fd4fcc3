"""results.png: accuracy gain (with synthetic - real only, points) against k, one line per lever,
error bars = the 95% t-interval over seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from augment_study.tables import k_order, lever_order


def error_bar(row: dict[str, Any]) -> tuple[float, float]:
    """(below, above) the mean: the interval's half-widths; 0 without an interval (one seed)."""
    if row["diff_low"] is None or row["diff_high"] is None:
        return 0.0, 0.0
    return row["diff_mean"] - row["diff_low"], row["diff_high"] - row["diff_mean"]


def plot_gain(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """Write the plot; None (and no file) when there is no row."""
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = sorted({r["k"] for r in rows}, key=k_order)
    levers = sorted({r["lever"] for r in rows}, key=lever_order)
    width = 0.5 / max(len(levers), 1)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.axhline(0.0, color="gray", lw=0.8)
    for i, lever in enumerate(levers):
        mine = {r["k"]: r for r in rows if r["lever"] == lever}
        present = [k for k in ks if k in mine]
        offset = (i - (len(levers) - 1) / 2) * width
        ys = [mine[k]["diff_mean"] for k in present]
        errors = [error_bar(mine[k]) for k in present]
        ax.errorbar(
            [ks.index(k) + offset for k in present],
            ys,
            yerr=[[e[0] for e in errors], [e[1] for e in errors]],
            marker="o",
            capsize=3,
            label=lever,
        )
    ax.set_xticks(range(len(ks)), [f"k={k}" for k in ks])
    ax.set_xlim(-0.5, len(ks) - 0.5)
    ax.set_xlabel("real images per class")
    ax.set_ylabel("test accuracy gain (points)")
    ax.set_title("GAN augmentation: with synthetic - real only (95% CI over seeds)")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
