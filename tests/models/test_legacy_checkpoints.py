"""Checkpoints written by the layout before the redesign (tests/fixtures/legacy, see its README)
still rebuild their models with the same weights, and a GAN one resumes training."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cnngan.checkpoints.model import model_from_checkpoint
from cnngan.models import GAN, ImageClassifier
from cnngan.train import train
from tests.models.test_gan import BASE

LEGACY = Path(__file__).parents[1] / "fixtures" / "legacy"
# the overrides that wrote gan_dcgan_digits.ckpt (fixture README), but for trainer.max_steps
GAN_RUN = [*BASE, "logger=none"]


@pytest.mark.parametrize(
    ("name", "kind"), [("classifier_digits", ImageClassifier), ("gan_dcgan_digits", GAN)]
)
def test_legacy_checkpoint_loads_with_equal_weights(name: str, kind: type) -> None:
    path = LEGACY / f"{name}.ckpt"
    model, config = model_from_checkpoint(path)
    stored = torch.load(path, weights_only=True)["state_dict"]
    assert isinstance(model, kind) and config["data"]["name"] == "digits"
    state = model.state_dict()
    assert state.keys() == stored.keys()
    for key, value in stored.items():
        assert torch.equal(state[key], value), key


@pytest.mark.slow
def test_legacy_gan_checkpoint_resumes_training(make_cfg) -> None:
    path = LEGACY / "gan_dcgan_digits.ckpt"
    legacy = torch.load(path, weights_only=True)
    assert legacy["global_step"] == 8  # 4 iterations of one D and one G step
    cfg = make_cfg("train", [*GAN_RUN, "trainer.max_steps=6", f"ckpt_path={path}"])
    metrics = train(cfg)
    out = Path(cfg.paths.output_dir)
    resumed = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    assert resumed["global_step"] == 12  # 2 more iterations: max_steps counts iterations
    assert resumed["loops"]["fit_loop"]["epoch_loop.state_dict"]["_batches_that_stepped"] == 6
    assert resumed["state_dict"].keys() == legacy["state_dict"].keys()
    assert not torch.equal(
        resumed["state_dict"]["generator.project.weight"],
        legacy["state_dict"]["generator.project.weight"],
    )  # it trained on
    assert (out / "samples" / "iter_000006.png").is_file()  # the iteration count went on
    assert all(torch.isfinite(torch.tensor(metrics[k])) for k in ("test/d_loss", "test/g_loss"))
