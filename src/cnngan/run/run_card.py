"""The run card: a short README.md that every run folder gets when its command ends, readable
without tools: how to run it again (the command and its overrides), the key metrics of
metrics.json, the best checkpoint, and the newest picture (sample grid or confusion matrix).

Written by global rank 0 only, from what the run left in its folder, so it describes the files
that are really there.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from cnngan.core.rank import is_rank_zero_process, log
from cnngan.run.metrics_file import PROTOCOL_PREFIX, read_metrics

CARD_NAME = "README.md"
MAX_METRICS = 12
WALL_TIME = "time/wall_s"
# never key metrics: per-step training curves, learning rates, per-class counts, the protocol
_NOT_KEY = (PROTOCOL_PREFIX, "mode_counts/", "train/", "lr", "epoch", "trainer/")
_HEADLINE = ("fid", "acc", "kid_mean", "is_mean", "precision", "recall", "f1")


def write_run_card(cfg: DictConfig, command: str) -> Path | None:
    """Write `<paths.output_dir>/README.md` for the run that just ended (rank 0 only)."""
    run_dir = OmegaConf.select(cfg, "paths.output_dir", default=None)
    if not run_dir or not is_rank_zero_process():
        return None
    optimized = OmegaConf.select(cfg, "optimized_metric", default=None)
    overrides, sweep_job = hydra_job()
    text = render_card(
        Path(run_dir),
        command,
        overrides,
        first=[optimized] if isinstance(optimized, str) else list(optimized or []),
        fid_evaluator=OmegaConf.select(cfg, "callbacks.gan_fid.evaluator", default=None),
        evaluated=OmegaConf.select(cfg, "ckpt_path", default=None),
        sweep_job=sweep_job,
    )
    path = Path(run_dir) / CARD_NAME
    tmp = path.with_name(f".{CARD_NAME}.tmp")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    except OSError as err:  # the run itself is complete: a missing summary must not fail it
        log.warning("run card %s not written: %s", path, err)
        return None
    return path


def hydra_job() -> tuple[list[str], str | None]:
    """The command-line overrides of this run or multirun job ([] outside Hydra), and for a
    multirun job a line saying which sweep it belongs to (else None)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return [], None
    hc = HydraConfig.get()
    overrides = list(hc.overrides.task)
    if hc.mode != RunMode.MULTIRUN:
        return overrides, None
    return overrides, f"Job {hc.job.num} of the multirun in `{hc.sweep.dir}`."


def render_card(
    run_dir: Path,
    command: str,
    overrides: Sequence[str],
    first: Sequence[str] = (),
    fid_evaluator: str | None = None,
    evaluated: str | None = None,
    sweep_job: str | None = None,
) -> str:
    """The card's markdown for the files in `run_dir`."""
    lines = [
        f"# {command}: {run_dir.name}",
        "",
        f"Written when the run ended ({time.strftime('%Y-%m-%d %H:%M')}). Run it again with:",
        "",
        "```",
        " ".join([command, *(shlex.quote(o) for o in overrides)]),
        "```",
        "",
        "Overrides: " + (", ".join(f"`{o}`" for o in overrides) or "none (the defaults)") + ".",
    ]
    if sweep_job:
        lines.append(sweep_job)
    metrics = read_metrics(run_dir) if (run_dir / "metrics.json").is_file() else {}
    lines += metrics_section(metrics, first, fid_evaluator)
    lines += files_section(run_dir, evaluated)
    picture = newest_picture(run_dir)
    if picture is not None:
        lines += ["", "## Newest picture", "", f"![{picture}]({picture})"]
    return "\n".join(lines) + "\n"


def key_metrics(metrics: Mapping[str, Any], first: Sequence[str] = ()) -> list[str]:
    """The metric names worth a glance, most telling first: `first` (what a sweep optimizes),
    headline scores (FID, accuracy, ...), test, validation, the rest; the wall time last."""

    def rank(name: str) -> tuple[int, str]:
        if name in first:
            return 0, f"{list(first).index(name):03d}"
        leaf = name.rsplit("/", 1)[-1]
        order = [
            leaf in _HEADLINE or leaf.endswith("_best"),
            name.startswith("test/"),
            name.startswith("val/"),
            "/" not in name,
        ]
        return 1 + next((i for i, hit in enumerate(order) if hit), len(order)), name

    names = [k for k in metrics if k != WALL_TIME and (not k.startswith(_NOT_KEY) or k in first)]
    return sorted(names, key=rank)[:MAX_METRICS] + ([WALL_TIME] if WALL_TIME in metrics else [])


def metrics_section(
    metrics: Mapping[str, Any], first: Sequence[str], fid_evaluator: str | None
) -> list[str]:
    lines = ["", "## Key metrics", ""]
    if not metrics:
        return [*lines, "No metrics.json: the command wrote no scores."]
    shown = key_metrics(metrics, first)
    lines += ["| metric | value |", "| --- | --- |"]
    lines += [f"| {name} | {_number(metrics[name])} |" for name in shown]
    lines += ["", f"All {len(metrics)} values: [metrics.json](metrics.json)."]
    note = fid_note(metrics, fid_evaluator)
    return lines + (["", note] if note and any("fid" in k for k in shown) else [])


def fid_note(metrics: Mapping[str, Any], fid_evaluator: str | None) -> str | None:
    """What the FID here measures: which network's features it compares."""
    features = metrics.get(PROTOCOL_PREFIX + "features", "evaluator")
    evaluator = metrics.get(PROTOCOL_PREFIX + "evaluator") or fid_evaluator
    if features == "inception":
        return "FID here is computed in Inception-v3 features (metrics.features=inception)."
    if not evaluator:
        return None
    shipped = f"src/cnngan/metrics/weights/{evaluator}.pt"
    where = evaluator if str(evaluator).endswith(".pt") else shipped
    return (
        f"FID here is the Frechet distance in the features of cnngan's own evaluator network "
        f"`{evaluator}` ({where}), not Inception's: compare it only with FIDs scored by the same "
        "evaluator file, never with FIDs in papers."
    )


def files_section(run_dir: Path, evaluated: str | None) -> list[str]:
    lines = ["", "## Files", ""]
    best = best_checkpoint(run_dir)
    if best is not None:
        label = "Best checkpoint" if best.name.startswith("best") else "Checkpoint"
        lines.append(f"- {label}: [{_rel(best, run_dir)}]({_rel(best, run_dir)})")
    if evaluated:
        lines.append(f"- Checkpoint evaluated: `{evaluated}`")
    for name, what in (
        ("config_resolved.yaml", "The resolved config"),
        (".hydra/overrides.yaml", "The overrides as Hydra saved them"),
    ):
        if (run_dir / name).is_file():
            lines.append(f"- {what}: [{name}]({name})")
    return lines


def best_checkpoint(run_dir: Path) -> Path | None:
    """checkpoints/best*.ckpt (kept for a metric), else the newest other checkpoint, else None."""
    folder = run_dir / "checkpoints"
    found = sorted(folder.glob("*.ckpt"), key=lambda p: (p.stat().st_mtime, p.name))
    for group in (
        [p for p in found if p.name.startswith("best")],
        [p for p in found if p.name != "last.ckpt"],
        found,
    ):
        if group:
            return group[-1]
    return None


def newest_picture(run_dir: Path) -> str | None:
    """The newest sample grid or confusion matrix image, relative to `run_dir`."""
    found = [*run_dir.glob("samples/*.png"), *run_dir.glob("confusion_matrix.png")]
    if not found:
        return None
    newest = max(found, key=lambda p: (p.stat().st_mtime, p.name == "final.png", p.name))
    return _rel(newest, run_dir)


def _rel(path: Path, run_dir: Path) -> str:
    return path.relative_to(run_dir).as_posix()


def _number(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.4g}"
