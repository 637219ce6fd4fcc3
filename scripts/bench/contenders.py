"""What the benchmark compares: contenders as config overrides, and the comparisons per model.

A contender is a side (the hand-written `plain` loop or `cnngan`'s Trainer) and the config
overrides it runs with; the plain loop reads its settings (memory layout, optimizer
implementation, augmentation, EMA, ...) from that config, so "identical settings" means one
config. A comparison is a ratio of two contenders' speeds, measured in back-to-back pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from cnngan.run.compose import compose_config

REPO = Path(__file__).resolve().parents[2]
SEED = 42


@dataclass(frozen=True)
class Contender:
    side: str  # "plain" | "cnngan"
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class Comparison:
    """`numerator` speed / `denominator` speed (contender names of the task)."""

    numerator: str
    denominator: str
    label: str


@dataclass(frozen=True)
class Task:
    experiment: str
    callbacks: str  # the experiment's callbacks group (start-up run)
    contenders: dict[str, Contender]
    comparisons: dict[str, Comparison]
    defaults: tuple[str, ...] = field(default=("framework", "competent", "torch_defaults"))


def _optimizers(task: str, key: str, value: str) -> tuple[str, ...]:
    names = ("optimizer",) if task == "classifier" else ("g_optimizer", "d_optimizer")
    return tuple(f"++model.{name}.{key}={value}" for name in names)


def _torch_defaults(task: str) -> tuple[str, ...]:
    """NCHW and torch's default optimizer implementation (neither fused nor forced foreach)."""
    return ("data.channels_last=false", *_optimizers(task, "fused", "null"))


def _comparisons(task: str, competent: str) -> dict[str, Comparison]:
    return {
        "framework": Comparison(
            "cnngan", "plain", "(a) framework cost: identical settings (the cnngan defaults)"
        ),
        "competent": Comparison(
            "cnngan", competent, "(b) cnngan defaults vs a competent plain loop"
        ),
        "torch_defaults": Comparison(
            "cnngan",
            "plain+torch_defaults",
            "(c) cnngan defaults vs the plain loop with torch defaults (NCHW, default Adam)",
        ),
        "bf16": Comparison("cnngan+bf16", "cnngan", "cnngan bf16-mixed vs cnngan 32-true"),
        "fast": Comparison(
            "cnngan+fast", competent, f"cnngan experiment={task}_fast vs the competent plain loop"
        ),
    }


FP32 = ("trainer.precision=32-true",)

TASKS: dict[str, Task] = {
    "classifier": Task(
        experiment="classifier_cnn",
        callbacks="default",
        contenders={
            # fp32 like the plain loop: the default precision=auto would pick bf16 on some CPUs
            "cnngan": Contender("cnngan", FP32),
            "cnngan+bf16": Contender("cnngan", ("trainer.precision=bf16-mixed",)),
            "cnngan+fast": Contender("cnngan", ("experiment=classifier_cnn_fast", *FP32)),
            "plain": Contender("plain"),
            # what a skilled PyTorch user switches on: channels_last and the fused AdamW kernel
            "plain+competent": Contender(
                "plain", ("data.channels_last=true", *_optimizers("classifier", "fused", "true"))
            ),
            "plain+torch_defaults": Contender("plain", _torch_defaults("classifier")),
        },
        comparisons=_comparisons("classifier", "plain+competent"),
    ),
    "gan": Task(
        experiment="gan_dcgan",
        callbacks="gan",
        contenders={
            # fp32 like the plain loop: the default precision=auto would pick bf16 on some CPUs
            "cnngan": Contender("cnngan", FP32),
            "cnngan+bf16": Contender("cnngan", ("trainer.precision=bf16-mixed",)),
            "cnngan+fast": Contender("cnngan", ("experiment=gan_dcgan_fast", *FP32)),
            # the GAN's defaults already are a skilled user's switches (channels_last, fused
            # Adam): (a) and (b) share the plain contender and so their pairs
            "plain": Contender("plain"),
            "plain+torch_defaults": Contender("plain", _torch_defaults("gan")),
        },
        comparisons=_comparisons("gan", "plain"),
    ),
}


def compose(
    task: str, overrides: tuple[str, ...], out_dir: Path, data: str | None = None
) -> DictConfig:
    """The run config exactly as `cnngan-train experiment=<task's> <overrides>` composes it,
    resolved (so it no longer depends on Hydra's global state)."""
    experiment = [o for o in overrides if o.startswith("experiment=")]
    rest = [o for o in overrides if not o.startswith("experiment=")]
    ordered = (experiment or [f"experiment={TASKS[task].experiment}"]) + (
        [f"data={data}"] if data else []
    )
    cfg = compose_config("train", ordered + rest, output_dir=out_dir, root_dir=REPO)
    run_part = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    return OmegaConf.create(OmegaConf.to_container(run_part, resolve=True))
