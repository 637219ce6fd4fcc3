"""cnngan-sample on a conditional GAN trained for real (8x8 digits): per-class grids whose images
show their classes (read by the shipped digits evaluator), the truncation trick measurably
narrowing the samples, and the user's mistakes through the real command line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from torchvision.io import decode_image

from cnngan.metrics.evaluator import load_evaluator
from cnngan.models.gan.sampling import latent_noise
from cnngan.sample import sample
from tests.apps.conftest import tiny_gan_checkpoint
from tests.apps.test_user_errors import run_command
from tests.conftest import compose_config
from tests.metrics.tiny_cond_gan import tiny_conditional_gan

pytestmark = pytest.mark.slow  # trains the tiny conditional GAN once per session


@pytest.fixture(scope="module")
def cond_ckpt(tmp_path_factory) -> Path:
    return tiny_conditional_gan(tmp_path_factory) / "checkpoints" / "last.ckpt"


def run_sample(ckpt: Path, out: Path, *overrides: str) -> dict:
    """cnngan-sample in process; returns samples.pt's contents (+ "paths")."""
    cfg = compose_config("sample", [f"ckpt_path={ckpt}", "device=cpu", *overrides], out)
    paths = sample(cfg)
    return torch.load(paths["tensor"], weights_only=True) | {"paths": paths}


def within_class_spread(images: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean pairwise pixel distance between images of the same class, averaged over classes."""
    x = images.float().flatten(1) / 255
    return float(
        torch.stack([torch.cdist(x[labels == c], x[labels == c]).mean() for c in labels.unique()])
        .mean()
        .item()
    )


def test_per_class_grid_has_a_row_per_class_showing_that_class(
    cond_ckpt: Path, tmp_path: Path
) -> None:
    saved = run_sample(cond_ckpt, tmp_path / "all", "per_class=20")
    images, labels = saved["images"], saved["labels"]
    assert images.shape == (200, 1, 8, 8)
    assert torch.equal(labels, torch.arange(10).repeat_interleave(20))
    # 10 rows of 20 images of 8x8 with 2-pixel padding
    assert tuple(decode_image(str(saved["paths"]["grid"])).shape)[1:] == (102, 202)
    predicted = load_evaluator("digits").logits(images).argmax(dim=1)
    accuracy = float((predicted == labels).float().mean())
    assert accuracy > 0.6, accuracy  # chance: 0.1

    two = run_sample(cond_ckpt, tmp_path / "two", "per_class=5", "labels=[2,7]")
    assert two["labels"].tolist() == [2] * 5 + [7] * 5
    assert tuple(decode_image(str(two["paths"]["grid"])).shape)[1:] == (22, 52)


def test_truncation_narrows_the_samples_step_by_step(cond_ckpt: Path, tmp_path: Path) -> None:
    spreads = {}
    for truncation in ("null", "1.0", "0.3"):
        saved = run_sample(
            cond_ckpt, tmp_path / truncation, "per_class=30", f"truncation={truncation}"
        )
        assert saved["truncation"] == (None if truncation == "null" else float(truncation))
        spreads[truncation] = within_class_spread(saved["images"], saved["labels"])
    assert spreads["0.3"] < 0.8 * spreads["1.0"] < 0.8 * spreads["null"], spreads


def test_truncated_latents_stay_inside_the_threshold_with_the_right_spread() -> None:
    z = latent_noise(20000, 8, torch.Generator().manual_seed(0), truncation=0.5)
    assert float(z.abs().max()) <= 0.5
    # the standard normal truncated to [-0.5, 0.5] has standard deviation 0.2838
    assert float(z.std()) == pytest.approx(0.2838, abs=0.003)
    assert float(z.mean()) == pytest.approx(0.0, abs=0.005)
    untruncated = latent_noise(5, 8, torch.Generator().manual_seed(0), truncation=None)
    assert torch.equal(untruncated, torch.randn(5, 8, generator=torch.Generator().manual_seed(0)))


CASES = {
    "truncation_zero": (
        ["ckpt_path={cond}", "truncation=0"],
        r"truncation=0 must be a number above 0.*truncation=null for none",
    ),
    "label_out_of_range": (
        ["ckpt_path={cond}", "labels=[3,10]"],
        r"labels=\[3, 10\] must be class indices in \[0, 9\]",
    ),
    "per_class_unconditional": (
        ["ckpt_path={uncond}", "per_class=4"],
        r"per_class=4 needs a conditional GAN.*unconditional one; drop per_class",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_request_is_one_message_and_exit_status_2(
    case: str, cond_ckpt: Path, tmp_path: Path
) -> None:
    uncond = tiny_gan_checkpoint(tmp_path / "uncond.ckpt", conditional=False)
    args, message = CASES[case]
    args = [a.format(cond=cond_ckpt, uncond=uncond) for a in args]
    result = run_command("cnngan-sample", args, tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("cnngan-sample:")]
    assert len(errors) == 1 and re.search(message, errors[0]), result.stderr[-2000:]
    assert not (tmp_path / "run" / "samples.pt").exists()
