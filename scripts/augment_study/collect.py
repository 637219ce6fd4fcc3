"""Reading a study folder back: one record per classifier run (from its config and metrics.json)
and one per GAN (validation-FID history, cnngan-eval scores, pseudo-label accuracy)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

INFO_FILE = "augment_data.json"
HISTORY_FILE = "gan_metrics_history.json"


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


@dataclass
class Cell:
    """One classifier run of the grid."""

    k: str
    lever: str
    seed: int
    ratio: float
    test_acc: float
    val_acc_best: float | None
    gan: str | None
    kept_fraction: float | None
    run_dir: str


def gan_key(ckpt_path: str | None) -> str | None:
    """gans/k10 for <study>/gans/k10/checkpoints/best-fid.ckpt (the GAN run, relative)."""
    if not ckpt_path:
        return None
    run = Path(ckpt_path).parent.parent
    return f"{run.parent.name}/{run.name}"


def from_gan(synthetic: dict[str, Any]) -> bool:
    """Whether an arm's extra images are a GAN's (not the pseudo-labelled real images)."""
    return synthetic.get("source", "gan") == "gan"


def read_cell(run_dir: Path) -> Cell | None:
    """The record of a finished run (None without metrics.json or config)."""
    metrics = read_json(run_dir / "metrics.json")
    config_file = run_dir / "config_resolved.yaml"
    if "test/acc" not in metrics or not config_file.is_file():
        return None
    config = yaml.safe_load(config_file.read_text())
    synthetic = config["data"]["synthetic"]
    ratio = float(synthetic["ratio"])
    info = read_json(run_dir / INFO_FILE).get("synthetic", {})
    return Cell(
        k=str(config["data"]["k_per_class"]),
        lever=str(config["lever"]),
        seed=int(config["seed"]),
        ratio=ratio,
        test_acc=float(metrics["test/acc"]),
        val_acc_best=metrics.get("val/acc_best"),
        gan=gan_key(synthetic["ckpt_path"]) if ratio > 0 and from_gan(synthetic) else None,
        kept_fraction=info.get("kept_fraction")
        if info.get("filter") not in (None, "none")
        else None,
        run_dir=str(run_dir),
    )


def read_cells(out: Path) -> list[Cell]:
    cells = [read_cell(p.parent) for p in sorted(out.glob("classifiers/*/*/*/metrics.json"))]
    return [cell for cell in cells if cell is not None]


def best_validation(history: dict[str, Any]) -> tuple[float | None, int | None]:
    """(lowest val FID, its iteration) of a GAN run's gan_metrics_history.json."""
    scores = [s for s in history.get("scores", []) if s.get("fid") is not None]
    if not scores:
        return None, None
    best = min(scores, key=lambda s: s["fid"])
    return float(best["fid"]), int(best["iteration"])


def read_gan(out: Path, key: str) -> dict[str, Any]:
    """What the table shows of a GAN run: test FID and CAS (cnngan-eval), best val FID and its
    iteration (the budget chosen on validation), pseudo-label accuracy (gans_all)."""
    run = out / key
    scores = read_json(out / "gan_scores" / key / "metrics.json")
    val_fid, iteration = best_validation(read_json(run / HISTORY_FILE))
    return {
        "gan": key,
        "test_fid": scores.get("fid"),
        "cas_acc": scores.get("cas_acc"),
        "cas_real_acc": scores.get("cas_real_acc"),
        "val_fid": val_fid,
        "iteration": iteration,
        "pseudo_label_acc": read_json(run / INFO_FILE).get("pseudo_label_acc"),
    }


def read_gans(out: Path, cells: list[Cell]) -> dict[str, dict[str, Any]]:
    keys = sorted({cell.gan for cell in cells if cell.gan})
    return {key: read_gan(out, key) for key in keys}
