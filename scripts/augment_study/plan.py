"""What a study runs: k values, seeds, levers and budgets; the reduced and the full preset.

A lever is a file of conf/augment_lever/ (one arm of the study); "real" (the baseline every
synthetic arm is paired with) is always part of a plan.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

CONF = Path(__file__).resolve().parents[2] / "conf"
BASELINE = "real"
ALL = "all"
# the lever that needs the GAN trained on all images
GAN_ALL = "gan_all"
# levers that use the unlabelled training images: none are left at k = all (no cell there)
USE_UNLABELLED = (GAN_ALL, "pseudo_label")
# the synthetic arms in the order of the tables and of the full study
LEVERS = [
    "ratio_025",
    "ratio_05",
    "ratio_1",
    "ratio_2",
    "filter_k",
    "filter_evaluator",
    "pretrain",
    "gan_all",
    "pseudo_label",
]


# what makes two runs of one cell comparable: a study folder keeps them fixed
BUDGETS = (
    "gan_steps",
    "gan_eval_every",
    "clf_epochs",
    "min_epoch_size",
    "score_samples",
    "cas_train",
    "cas_epochs",
    "gan_extra",
    "clf_extra",
)


def budget_changes(old: dict, new: dict) -> list[str]:
    """The budgets that differ between a folder's recorded plan and a new one."""
    return [
        f"{key} {old[key]} -> {new[key]}" for key in BUDGETS if key in old and old[key] != new[key]
    ]


def available_levers() -> list[str]:
    return sorted(p.stem for p in (CONF / "augment_lever").glob("*.yaml"))


def parse_k(value: str) -> str:
    """A k of the command line: a number >= 1 or 'all' (as the configs spell it)."""
    if value.lower() == ALL:
        return ALL
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"k={value!r}: give numbers >= 1 or 'all', e.g. --k 10 25 all")
    return str(int(value))


@dataclass
class Plan:
    """One study: its axes and budgets (every field is a command-line option)."""

    k: list[str] = field(default_factory=lambda: ["10", "100"])
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    levers: list[str] = field(
        default_factory=lambda: ["ratio_1", "filter_k", "pretrain", "gan_all"]
    )
    # GAN: iteration cap, iterations between validation FIDs (the best one is kept)
    gan_steps: int = 1500
    gan_eval_every: int = 250
    # classifier: epochs, and real draws per epoch at least (one pass over the real images else)
    clf_epochs: int = 15
    min_epoch_size: int = 2048
    # GAN scores (cnngan-eval): samples for FID on the test split, CAS training images / epochs
    score_samples: int = 5000
    cas_train: int = 10000
    cas_epochs: int = 3
    gan_extra: list[str] = field(default_factory=list)
    clf_extra: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.levers = [BASELINE] + [lever for lever in self.levers if lever != BASELINE]
        unknown = sorted(set(self.levers) - set(available_levers()))
        if unknown:
            raise ValueError(f"unknown lever(s) {unknown}; choose from {available_levers()}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def synthetic_levers(self) -> list[str]:
        return [lever for lever in self.levers if lever != BASELINE]

    def cells(self) -> list[tuple[str, str, int]]:
        """Every (k, lever, seed) classifier run; the levers of unlabelled images are not run at
        k = all (gan_all would be the k GAN, pseudo_label would have no images)."""
        return [
            (k, lever, seed)
            for k in self.k
            for lever in self.levers
            for seed in self.seeds
            if not (lever in USE_UNLABELLED and k == ALL)
        ]

    def gan_ks(self) -> list[str]:
        """k values whose GAN on the k images per class is needed."""
        wanted = any(lever not in USE_UNLABELLED for lever in self.synthetic_levers)
        return list(self.k) if wanted else []

    def gan_all_ks(self) -> list[str]:
        return [k for k in self.k if k != ALL] if GAN_ALL in self.levers else []

    def k_classifier_ks(self) -> list[str]:
        """k values whose k-classifier is needed: every k for filter_k, else the k < all of the
        levers that label the unlabelled images with it."""
        if "filter_k" in self.levers:
            return list(self.k)
        if any(lever in USE_UNLABELLED for lever in self.levers):
            return [k for k in self.k if k != ALL]
        return []


REDUCED = Plan()
FULL = Plan(
    k=["10", "25", "100", ALL],
    seeds=[1, 2, 3, 4, 5],
    levers=list(LEVERS),
    gan_steps=6000,
    gan_eval_every=250,
    clf_epochs=20,
    min_epoch_size=4096,
    score_samples=10000,
    cas_train=20000,
    cas_epochs=5,
)
