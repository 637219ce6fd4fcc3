"""A small class-conditional DCGAN trained for real on the 8x8 digits (experiment=gan_dcgan_cond:
class-conditional batch norm in G, projection D) until its samples follow their labels, with the
FID callback scoring it per class at the end. Shared by the per-class metric and the
cnngan-sample tests; about half a minute on one free CPU core.

Unlike the recipe, its G also gets the label concatenated to z (`embed_dim`): in 300 iterations
of this tiny net the class-conditional batch norms alone do not make the samples follow their
labels (evaluator accuracy 0.105, chance 0.1), the embedding does. The fixture tests sampling and
the per-class metrics, not the recipe (docs/gans_conditional.md measures that)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnngan.train import train
from tests.conftest import compose_config

ITERATIONS = 300
OVERRIDES = [
    "experiment=gan_dcgan_cond",
    "data=digits",
    "model.generator.width=16",
    "model.discriminator.width=16",
    "model.generator.embed_dim=8",
    # an EMA that follows this short run closely (the default 0.999 would average in the
    # untrained generator of the first iterations)
    "model.ema_decay=0.95",
    "trainer.accelerator=cpu",
    "trainer.precision=32-true",
    "trainer.max_time=null",
    f"trainer.max_steps={ITERATIONS}",
    # the GAN metrics (per class included) only when training stops, on 500 samples
    "callbacks.gan_fid.every_n_epochs=1000",
    "callbacks.gan_fid.num_samples=500",
    "callbacks.gan_fid.suite.kid_subsets=5",
    "callbacks.gan_fid.suite.kid_subset_size=100",
    "callbacks.rich_progress_bar=null",
    "callbacks.model_summary=null",
    "callbacks.sample_grid=null",
    "logger=none",
    "test=false",
]


def train_tiny_conditional_gan(out: Path) -> Path:
    """Train it into `out` (the run folder: metrics.json, checkpoints/last.ckpt, ...)."""
    out.mkdir(parents=True, exist_ok=True)
    train(compose_config("train", OVERRIDES, out))
    return out


def tiny_conditional_gan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run folder of the tiny conditional GAN, trained once per test session (every test
    module that asks for it gets the same run)."""
    out = tmp_path_factory.getbasetemp() / "tiny_cond_gan"
    if not (out / "metrics.json").exists():
        train_tiny_conditional_gan(out)
    return out
