"""cnngan-inpaint end to end (Hydra config, test split and image folder inputs) on a tiny GAN."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnngan.core.errors import UserError
from cnngan.inpaint import read_image_input, run_inpaint

FAST = ["n=6", "inversion.steps=5", "inversion.restarts=2", "grid_images=4", "device=cpu"]


@pytest.mark.slow
def test_inpaint_on_the_test_split_writes_metrics_and_grids(make_cfg, gan_ckpt: Path) -> None:
    cfg = make_cfg("inpaint", [f"ckpt_path={gan_ckpt}", "mask=[center,left_half]", *FAST])
    flat = run_inpaint(cfg)
    out = Path(cfg.paths.output_dir)
    stored = json.loads((out / "metrics.json").read_text())
    for mask in ("center", "left_half"):
        assert (out / f"grid_{mask}.png").is_file()
        for method in ("mean", "diffusion", "nearest", "gan"):
            assert (
                np.isfinite(stored[f"{mask}/{method}/psnr"])
                and -1 <= stored[f"{mask}/{method}/ssim"] <= 1
            )
        wins = stored[f"{mask}/gan/wins_vs_mean"] * 6  # a fraction of the 6 images
        assert abs(wins - round(wins)) < 1e-6 and 0 <= round(wins) <= 6
    assert flat["n_images"] == 6
    assert "| center | gan |" in (out / "results.md").read_text()


def test_image_files_are_loaded_and_resized(tmp_path: Path) -> None:
    for i in range(3):
        Image.fromarray(np.full((16, 20, 3), 40 * i, dtype=np.uint8)).save(tmp_path / f"{i}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    images = read_image_input(str(tmp_path), (1, 8, 8))
    assert images.shape == (3, 1, 8, 8) and images.dtype == torch.uint8
    assert images[2].float().mean().item() == pytest.approx(80, abs=1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no image files"):
        read_image_input(str(tmp_path / "empty"), (1, 8, 8))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("mask=triangle", "mask=.*choose one or more of center"),
        ("baselines=[mean,magic]", "baselines=.*choose among"),
        ("n=0", "n=0 must be at least 1"),
        ("mask_params.random_frac=1.5", "random_frac=1.5"),
        ("inversion.blend=smear", "blend='smear'"),
    ],
)
def test_bad_settings_fail_before_work(
    make_cfg, tmp_path: Path, override: str, message: str
) -> None:
    missing = tmp_path / "never_loaded.ckpt"  # the settings are refused before the checkpoint
    cfg = make_cfg("inpaint", [f"ckpt_path={missing}", *FAST, override])
    with pytest.raises(UserError, match=message):
        run_inpaint(cfg)
