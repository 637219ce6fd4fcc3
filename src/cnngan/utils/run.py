"""Steps every entry point shares: config tree, seeding, metrics.json, the final summary."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from cnngan.utils.rank import log


def print_config_tree(cfg: DictConfig, save_dir: str | Path | None = None) -> None:
    """Print the resolved config as a rich tree (one branch per group) and save it as YAML."""
    import rich
    import rich.syntax
    import rich.tree

    tree = rich.tree.Tree("CONFIG", style="dim", guide_style="dim")
    first = [k for k in ("data", "model", "trainer", "callbacks", "logger", "paths") if k in cfg]
    for key in first + [k for k in cfg if k not in first]:
        value = cfg[key]
        text = (
            OmegaConf.to_yaml(value, resolve=True) if isinstance(value, DictConfig) else str(value)
        )
        tree.add(key, style="bold").add(rich.syntax.Syntax(text, "yaml"))
    rich.print(tree)
    if save_dir is not None:
        save_resolved_config(cfg, save_dir)


def save_resolved_config(cfg: DictConfig, save_dir: str | Path) -> Path:
    path = Path(save_dir) / "config_resolved.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(OmegaConf.to_yaml(cfg, resolve=True))
    return path


def apply_extras(cfg: DictConfig) -> None:
    extras = cfg.get("extras") or {}
    if extras.get("ignore_warnings"):
        warnings.filterwarnings("ignore")
        import logging

        for name in (
            "lightning.pytorch.utilities.rank_zero",
            "lightning.fabric.utilities.rank_zero",
        ):
            logging.getLogger(name).setLevel(logging.ERROR)


def plain_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Tensors/numbers -> flat {name: float}, sorted by name."""
    out = {}
    for name, value in metrics.items():
        try:
            out[name] = float(value)
        except (TypeError, ValueError):
            continue
    return dict(sorted(out.items()))


def write_metrics(metrics: Mapping[str, Any], run_dir: str | Path) -> Path:
    path = Path(run_dir) / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    values = {k: (v if math.isfinite(v) else None) for k, v in plain_metrics(metrics).items()}
    path.write_text(json.dumps(values, indent=2) + "\n")
    return path


def metric_value(metrics: Mapping[str, Any], name: str | None) -> float | None:
    """The value a sweeper optimizes; a clear error when the name is not among the metrics."""
    if not name:
        return None
    if name not in metrics:
        raise KeyError(
            f"optimized_metric={name!r} was not logged; logged metrics are: {sorted(metrics)}. "
            "Set optimized_metric to one of them."
        )
    return float(metrics[name])


def print_summary(metrics: Mapping[str, Any], wall_s: float, run_dir: str | Path) -> None:
    shown = {
        k: v for k, v in plain_metrics(metrics).items() if k.startswith(("test/", "val/acc_best"))
    }
    lines = [f"  {k:<22} {v:.4f}" for k, v in shown.items()]
    log.info(
        "Summary\n%s\n  %-22s %.1f s\n  run dir: %s", "\n".join(lines), "wall time", wall_s, run_dir
    )
