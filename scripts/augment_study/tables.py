"""The study's table: each synthetic cell paired with the real-only cell of the same k and seed.

One row per (k, lever): real-only and with-synthetic mean test accuracy over the paired seeds,
the paired difference with its 95% t-interval, and the scores of the GAN the lever used.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from augment_study.collect import Cell
from augment_study.plan import BASELINE, LEVERS
from augment_study.stats import paired, t_interval, verdict


def k_order(k: str) -> tuple[int, int]:
    return (1, 0) if not k.isdigit() else (0, int(k))


def lever_order(lever: str) -> tuple[int, str]:
    return (LEVERS.index(lever), "") if lever in LEVERS else (len(LEVERS), lever)


def mean_or_none(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def number(value: float) -> float | None:
    """NaN (an interval of one seed) as None, so JSON and CSV hold no NaN."""
    return None if math.isnan(value) else value


def table_rows(cells: list[Cell], gans: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (k, synthetic lever) that has a real-only partner on at least one seed."""
    acc: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    by_key: dict[tuple[str, str], list[Cell]] = defaultdict(list)
    for cell in cells:
        acc[(cell.k, cell.lever)][cell.seed] = 100 * cell.test_acc
        by_key[(cell.k, cell.lever)].append(cell)
    rows = []
    keys = [key for key in acc if key[1] != BASELINE]
    for k, lever in sorted(keys, key=lambda key: (k_order(key[0]), lever_order(key[1]))):
        seeds, real, synthetic = paired(acc.get((k, BASELINE), {}), acc[(k, lever)])
        if not seeds:
            continue
        mean, low, high = t_interval([s - r for r, s in zip(real, synthetic, strict=True)])
        group = by_key[(k, lever)]
        gan = gans.get(group[0].gan or "", {})
        kept = [c.kept_fraction for c in group if c.kept_fraction is not None]
        rows.append(
            {
                "k": k,
                "lever": lever,
                "ratio": group[0].ratio,
                "n": len(seeds),
                "seeds": seeds,
                "real_mean": statistics.fmean(real),
                "synthetic_mean": statistics.fmean(synthetic),
                "diff_mean": mean,
                "diff_low": number(low),
                "diff_high": number(high),
                "verdict": verdict(low, high),
                "kept_fraction": mean_or_none(kept),
                **{
                    key: gan.get(key)
                    for key in ("gan", "test_fid", "cas_acc", "val_fid", "iteration")
                },
                "pseudo_label_acc": gan.get("pseudo_label_acc"),
            }
        )
    return rows


def fmt(value: float | None, digits: int = 2, scale: float = 1.0) -> str:
    if value is None:
        return "-"
    return f"{scale * value:.{digits}f}"


def markdown(rows: list[dict[str, Any]], plan: dict[str, Any]) -> str:
    lines = [
        "Fashion-MNIST test accuracy (%) of the CNN trained on k real images per class, real only "
        "and with a lever's GAN samples; mean over the seeds both arms finished; difference = "
        "with synthetic - real only, paired by seed, with its 95% t-interval over seeds. GAN: the "
        "generator the lever used (checkpoint of the best validation FID, at `it.`), FID on the "
        f"test split ({plan.get('score_samples', '?')} samples, evaluator features), CAS = test "
        "accuracy of the CNN trained on its samples only.",
        f"Budgets: classifier {plan.get('clf_epochs', '?')} epochs (at least "
        f"{plan.get('min_epoch_size', '?')} real draws each), best val/acc epoch tested; GAN "
        f"at most {plan.get('gan_steps', '?')} iterations, validation FID every "
        f"{plan.get('gan_eval_every', '?')}.",
        "",
        "| k | lever | real only | with synthetic | difference [95% CI] | verdict | kept | "
        "GAN | GAN FID | GAN CAS | GAN it. | seeds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        interval = f"{fmt(r['diff_mean'])} [{fmt(r['diff_low'])}, {fmt(r['diff_high'])}]"
        lines.append(
            f"| {r['k']} | {r['lever']} | {fmt(r['real_mean'])} | {fmt(r['synthetic_mean'])} | "
            f"{interval} | {r['verdict']} | {fmt(r['kept_fraction'], 0, 100)}"
            f"{'%' if r['kept_fraction'] is not None else ''} | {r['gan'] or '-'} | "
            f"{fmt(r['test_fid'], 1)} | {fmt(r['cas_acc'], 1, 100)} | "
            f"{r['iteration'] if r['iteration'] is not None else '-'} | {r['n']} |"
        )
    return "\n".join(lines) + "\n"


def write_cells_csv(cells: list[Cell], path: Path) -> None:
    """One row per classifier run (k, lever, ratio, seed, test_acc, ...)."""
    fields = [f.name for f in dataclasses.fields(Cell)]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(dataclasses.asdict(c) for c in cells)


def write_results(
    out: Path,
    cells: list[Cell],
    gans: dict[str, dict[str, Any]],
    plan: dict[str, Any],
) -> list[dict[str, Any]]:
    """results.md (the table), results.csv (one row per run), results.json (all of it)."""
    rows = table_rows(cells, gans)
    (out / "results.md").write_text(markdown(rows, plan))
    write_cells_csv(cells, out / "results.csv")
    everything = {
        "plan": plan,
        "rows": rows,
        "gans": gans,
        "cells": [dataclasses.asdict(c) for c in cells],
    }
    (out / "results.json").write_text(json.dumps(everything, indent=2) + "\n")
    return rows
