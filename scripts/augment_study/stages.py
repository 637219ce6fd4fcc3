"""The study's stages as Hydra multirun commands, each over the cells that have no metrics.json yet.

Folders under the study's --out (one run per cell, each with its metrics.json):
  k_classifiers/k<k>/           the CNN on the k real images per class (seed 0): filter, labels
  gans/k<k>/                    conditional GAN on the k images per class (best-fid.ckpt)
  gans_all/k<k>/                conditional GAN on all training images, k-classifier labels
  gan_scores/<gans|gans_all>/k<k>/   cnngan-eval of a GAN's best-fid.ckpt: test FID, CAS
  classifiers/k<k>/<lever>/seed<s>/  the grid (hparams_search=augment_grid)
"""

from __future__ import annotations

import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from run_logged import QUIET, TRAIN_QUIET

from augment_study.plan import BASELINE, Plan

METRICS = "metrics.json"
# the batch size of experiment=augment_gan: epoch_size = iterations between FIDs x this
GAN_BATCH = 64


@dataclass
class Stage:
    """One multirun: its name (log file), command, and the run folders it fills."""

    name: str
    command: list[str]
    runs: list[Path]


def executable(name: str) -> str:
    exe = Path(sys.executable).with_name(name)
    return str(exe) if exe.exists() else name


def k_dir(k: str) -> str:
    return f"k{k}"


def per_k_stage(name: str, experiment: str, ks: list[str], out: Path, extra: list[str]) -> Stage:
    """A multirun over the k values whose run has no metrics.json (k_classifiers, gans, ...)."""
    runs = {k: out / name / k_dir(k) for k in ks}
    todo = [k for k in ks if not (runs[k] / METRICS).is_file()]
    command = [
        executable("cnngan-train"),
        "-m",
        f"experiment={experiment}",
        f"data.k_per_class={','.join(todo)}",
        f"augment_study.dir={out}",
        f"hydra.sweep.dir={out / name}",
        "hydra.sweep.subdir=k${data.k_per_class}",
        *extra,
        *TRAIN_QUIET,
    ]
    return Stage(name, command, [runs[k] for k in todo])


def k_classifier_stage(plan: Plan, out: Path) -> Stage:
    extra = [f"augment_lever={BASELINE}", "seed=0", *classifier_budget(plan)]
    return per_k_stage("k_classifiers", "augment_classifier", plan.k_classifier_ks(), out, extra)


def gan_stage(plan: Plan, out: Path, all_images: bool) -> Stage:
    name, experiment = ("gans_all", "augment_gan_all") if all_images else ("gans", "augment_gan")
    ks = plan.gan_all_ks() if all_images else plan.gan_ks()
    extra = [
        f"trainer.max_steps={plan.gan_steps}",
        f"data.epoch_size={plan.gan_eval_every * GAN_BATCH}",
        *plan.gan_extra,
    ]
    return per_k_stage(name, experiment, ks, out, extra)


def gan_runs(plan: Plan) -> list[str]:
    """The GAN runs of a plan, as folders relative to the study: gans/k10, gans_all/k10, ..."""
    runs = [f"gans/{k_dir(k)}" for k in plan.gan_ks()]
    return runs + [f"gans_all/{k_dir(k)}" for k in plan.gan_all_ks()]


def score_stage(plan: Plan, out: Path) -> Stage:
    """cnngan-eval of every GAN's best-fid checkpoint: FID on the test split and CAS."""
    runs = {run: out / "gan_scores" / run for run in gan_runs(plan)}
    todo = [run for run, folder in runs.items() if not (folder / METRICS).is_file()]
    command = [
        executable("cnngan-eval"),
        "-m",
        f"+gan_run={','.join(todo)}",
        f"ckpt_path='{out}/${{gan_run}}/checkpoints/best-fid.ckpt'",
        f"metrics.num_samples={plan.score_samples}",
        "metrics.cas.enabled=true",
        f"metrics.cas.num_train={plan.cas_train}",
        f"metrics.cas.epochs={plan.cas_epochs}",
        f"hydra.sweep.dir={out / 'gan_scores'}",
        "hydra.sweep.subdir=${gan_run}",
        *QUIET,
    ]
    return Stage("gan_scores", command, [runs[run] for run in todo])


def classifier_budget(plan: Plan) -> list[str]:
    return [
        f"trainer.max_epochs={plan.clf_epochs}",
        f"data.min_epoch_size={plan.min_epoch_size}",
        *plan.clf_extra,
    ]


def cell_dir(out: Path, k: str, lever: str, seed: int) -> Path:
    return out / "classifiers" / k_dir(k) / lever / f"seed{seed}"


def cover_blocks(
    cells: list[tuple[str, str, int]],
) -> list[tuple[list[str], list[str], list[int]]]:
    """Few (ks, levers, seeds) products that together hold exactly `cells` (each cell once), so
    that a resumed study runs only what is missing, in as few multiruns as possible."""
    order = {cell: i for i, cell in enumerate(cells)}
    seeds_of: dict[tuple[str, str], list[int]] = defaultdict(list)
    for k, lever, seed in cells:
        seeds_of[(k, lever)].append(seed)
    levers_of: dict[tuple[str, tuple[int, ...]], list[str]] = defaultdict(list)
    for (k, lever), seeds in seeds_of.items():
        levers_of[(k, tuple(seeds))].append(lever)
    ks_of: dict[tuple[tuple[str, ...], tuple[int, ...]], list[str]] = defaultdict(list)
    for (k, seeds), levers in levers_of.items():
        ks_of[(tuple(levers), seeds)].append(k)
    blocks = [(ks, list(levers), list(seeds)) for (levers, seeds), ks in ks_of.items()]
    return sorted(blocks, key=lambda b: order[(b[0][0], b[1][0], b[2][0])])


def classifier_stages(plan: Plan, out: Path) -> list[Stage]:
    """The grid's missing cells as multiruns of experiment=augment_classifier
    hparams_search=augment_grid (one per block of cover_blocks)."""
    todo = [cell for cell in plan.cells() if not (cell_dir(out, *cell) / METRICS).is_file()]
    stages = []
    for i, (ks, levers, seeds) in enumerate(cover_blocks(todo)):
        command = [
            executable("cnngan-train"),
            "-m",
            "experiment=augment_classifier",
            "hparams_search=augment_grid",
            f"data.k_per_class={','.join(ks)}",
            f"augment_lever={','.join(levers)}",
            f"seed={','.join(str(s) for s in seeds)}",
            f"augment_study.dir={out}",
            *classifier_budget(plan),
            *TRAIN_QUIET,
        ]
        runs = [cell_dir(out, k, lever, s) for k in ks for lever in levers for s in seeds]
        stages.append(Stage(f"classifiers_{i}", command, runs))
    return stages


def all_stages(plan: Plan, out: Path) -> list[Stage]:
    """Every stage in order; stages with nothing left to run are dropped."""
    stages = [
        k_classifier_stage(plan, out),
        gan_stage(plan, out, all_images=False),
        gan_stage(plan, out, all_images=True),
        score_stage(plan, out),
        *classifier_stages(plan, out),
    ]
    return [stage for stage in stages if stage.runs]
