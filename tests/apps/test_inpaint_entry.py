"""cnngan-inpaint end to end (Hydra config, test split and image folder inputs) on a tiny GAN; and
on a briefly trained one, whose own images it must complete far better than the baselines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.core.global_hydra import GlobalHydra
from PIL import Image
from torchvision.io import write_png

from cnngan.checkpoints.model import load_model
from cnngan.core.errors import UserError
from cnngan.core.image_io import read_image_input, to_uint8
from cnngan.inpaint import run_inpaint
from cnngan.models import GAN
from cnngan.train import train
from tests.conftest import compose_config

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


# a tiny DCGAN trained for 100 iterations on the 8x8 digits, in fp32 (the same generator on every
# machine): its samples have digit-like contrast (pixels from about 10 to 230 of 255)
TRAINED_GAN = [
    "experiment=gan_dcgan",
    "data=digits",
    "model.generator.width=16",
    "model.discriminator.width=16",
    "model.ema_decay=null",
    "trainer.max_steps=100",
    "trainer.precision=32-true",
    "trainer.accelerator=cpu",
    "trainer.num_sanity_val_steps=0",
    "+trainer.limit_val_batches=0",
    "test=false",
    "callbacks=gan",
    "callbacks.sample_grid=null",
    "callbacks.rich_progress_bar=null",
    "logger=none",
]


@pytest.fixture(scope="module")
def trained_gan_and_its_images(tmp_path_factory) -> tuple[Path, Path]:
    """The checkpoint of a briefly trained GAN, and a folder of 8 of its own samples as PNG files:
    images in the generator's range, so a completion as good as the original exists."""
    root = tmp_path_factory.mktemp("trained_gan")
    train(compose_config("train", TRAINED_GAN, root / "run"))
    GlobalHydra.instance().clear()
    ckpt = root / "run" / "checkpoints" / "last.ckpt"
    model, _ = load_model(ckpt, GAN, "the inpainting test")
    samples = to_uint8(model.generate(8, generator=torch.Generator().manual_seed(123)), "symmetric")
    folder = root / "samples"
    folder.mkdir()
    for i, image in enumerate(samples):
        write_png(image, str(folder / f"{i}.png"))
    return ckpt, folder


def inpaint_psnr(make_cfg, ckpt: Path, images: Path, steps: int) -> dict[str, float]:
    cfg = make_cfg(
        "inpaint",
        [f"ckpt_path={ckpt}", f"input={images}", "mask=[center,left_half]", "n=8", "grid_images=2"]
        + [f"inversion.steps={steps}", "inversion.restarts=2", "device=cpu"],
        subdir=f"steps{steps}",
    )
    return run_inpaint(cfg)


@pytest.mark.slow
def test_inversion_completes_the_generators_own_images(
    make_cfg, trained_gan_and_its_images
) -> None:
    """On the GAN's own samples, 30 inversion steps (2 restarts) completed the holes at 22-23 dB
    PSNR against 10-14 dB for the mean fill, and gained 2-7 dB over the best of the 2 random
    starting codes (steps=0); 3 training seeds. A broken inversion (no optimization, a wrong
    gradient, the worst restart kept, a bad blend) loses these margins."""
    ckpt, images = trained_gan_and_its_images
    start = inpaint_psnr(make_cfg, ckpt, images, steps=0)
    inverted = inpaint_psnr(make_cfg, ckpt, images, steps=30)
    for mask in ("center", "left_half"):
        gan, mean = inverted[f"{mask}/gan/psnr"], inverted[f"{mask}/mean/psnr"]
        assert gan > mean + 5, f"{mask}: GAN {gan:.2f} dB, mean fill {mean:.2f} dB"
        assert inverted[f"{mask}/gan/wins_vs_mean"] >= 6 / 8
        assert gan > start[f"{mask}/gan/psnr"] + 1, f"{mask}: the inversion did not improve z"


def test_image_files_are_loaded_and_resized(tmp_path: Path) -> None:
    for i in range(3):
        Image.fromarray(np.full((16, 20, 3), 40 * i, dtype=np.uint8)).save(tmp_path / f"{i}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    files, images = read_image_input(str(tmp_path), (1, 8, 8), resize=True)
    assert [f.name for f in files] == ["0.png", "1.png", "2.png"]
    assert images.shape == (3, 1, 8, 8) and images.dtype == torch.uint8
    assert images[2].float().mean().item() == pytest.approx(80, abs=1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="input=.*empty: no image files"):
        read_image_input(str(tmp_path / "empty"), (1, 8, 8), resize=True)
    with pytest.raises(UserError, match="input=.* is 20x16 but 8x8 images are needed"):
        read_image_input(str(tmp_path), (1, 8, 8), resize=False)


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
