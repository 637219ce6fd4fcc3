"""cnngan-inpaint: image completion by GAN inversion, measured against simple baselines.

    cnngan-inpaint ckpt_path=logs/train/runs/<gan run>/checkpoints/last.ckpt
    cnngan-inpaint ckpt_path=... mask=center n=1000
    cnngan-inpaint ckpt_path=... input=my_images/ mask=left_half

For every mask it completes n images with the GAN (latent optimization, see
`cnngan.apps.inpaint.inversion`) and with the baselines, computes PSNR and SSIM on the hole, writes
`grid_<mask>.png` (rows: original, masked input, each baseline, G(z), GAN completion),
`results.md` and `metrics.json` (`<mask>/<method>/psnr`, `.../ssim`, ...) to the run dir.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from cnngan import config_dir
from cnngan.apps.inpaint.baselines import BASELINES
from cnngan.apps.inpaint.inversion import InversionConfig, inpaint
from cnngan.apps.inpaint.masks import MASKS, apply_mask, make_masks
from cnngan.apps.inpaint.quality import masked_psnr, masked_ssim
from cnngan.apps.inpaint.report import method_scores, results_table
from cnngan.checkpoints.model import load_model, stored_data_config
from cnngan.core.device import resolve_device
from cnngan.core.errors import UserError, require_positive
from cnngan.core.image_io import image_grid, read_image_input, save_grid, to_unit
from cnngan.core.rank import log
from cnngan.models import GAN
from cnngan.run.metrics_file import write_metrics


@dataclass
class Settings:
    """What `cfg` asks for, checked before any work: masks, inversion settings."""

    masks: list[str]
    inversion: InversionConfig


def check_settings(cfg: DictConfig) -> Settings:
    """Refuse unknown masks or baselines, bad mask parameters, n < 1 and bad inversion settings,
    each with the key to fix, before the checkpoint and the images are loaded."""
    kinds = [cfg.mask] if isinstance(cfg.mask, str) else list(cfg.mask)
    masks = [k.strip() for kind in kinds for k in str(kind).split(",") if k.strip()]
    if not masks or any(kind not in MASKS for kind in masks):
        raise UserError(f"mask={masks}: choose one or more of {', '.join(MASKS)}")
    if any(name not in BASELINES for name in cfg.baselines):
        raise UserError(
            f"baselines={list(cfg.baselines)}: choose among {', '.join(BASELINES)} (or [])"
        )
    for name in ("n", "grid_images"):
        if cfg[name] is not None:
            require_positive(name, cfg[name])
    try:
        for kind in masks:  # one tiny mask of each kind: the same checks as the real ones
            make_masks(kind, 1, (1, 4, 4), **cfg.mask_params)
        inversion = InversionConfig(**OmegaConf.to_container(cfg.inversion, resolve=True))
    except (TypeError, ValueError) as err:
        raise UserError(f"{err} (mask, mask_params or inversion settings)") from err
    return Settings(masks, inversion)


def load_inputs(
    cfg: DictConfig, stored: dict[str, Any], image_shape: tuple[int, int, int]
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The first n uint8 images and (for the test split) their labels."""
    if str(cfg.input) == "test":
        data = stored_data_config(stored, cfg.paths.data_dir)
        images, labels = hydra.utils.instantiate(data).split_images("test")
    else:
        _, images = read_image_input(cfg.input, image_shape, resize=True)
        labels = None
    n = len(images) if cfg.n is None else min(int(cfg.n), len(images))
    return images[:n], None if labels is None else labels[:n]


def complete_all(
    cfg: DictConfig,
    inversion: InversionConfig,
    model: GAN,
    images01: torch.Tensor,
    hole: torch.Tensor,
    labels: torch.Tensor | None,
) -> dict[str, torch.Tensor]:
    """Every method's completion of the images in [0, 1] (plus the raw G(z))."""
    hp = model.hparams
    results = {name: BASELINES[name](images01, hole) for name in cfg.baselines}
    images, hole = (images01 * 2 - 1).to(model.device), hole.to(model.device)
    num_classes = None
    if model.clusters is not None:  # self-conditioned: the cluster nearest its known pixels
        labels = model.clusters.assign_known(images, hole)
    elif not hp.get("conditional", False):
        labels = None
    elif not cfg.use_labels or labels is None:  # restart r tries class r % num_classes
        labels, num_classes = None, int(hp.num_classes)
    completed, raw = inpaint(
        model.sampling_generator(cfg.use_ema),
        images,
        hole,
        int(hp.latent_dim),
        inversion,
        labels=labels,
        num_classes=num_classes,
        discriminator=model.discriminator if inversion.d_weight > 0 else None,
    )
    results["gan_raw"] = to_unit(raw.cpu(), "symmetric")
    results["gan"] = to_unit(completed.cpu(), "symmetric")
    return results


def mask_scores(
    kind: str, images01: torch.Tensor, hole: torch.Tensor, results: dict[str, torch.Tensor]
) -> dict[str, float]:
    """PSNR/SSIM of every method on the hole, and the GAN's share of wins over each baseline."""
    methods = [name for name in results if name != "gan_raw"]
    psnr = {name: masked_psnr(results[name], images01, hole) for name in methods}
    scores = {}
    for name in methods:
        ssim = masked_ssim(results[name], images01, hole)
        scores |= method_scores(f"{kind}/{name}", {"psnr": psnr[name], "ssim": ssim})
        if name != "gan":
            scores[f"{kind}/gan/wins_vs_{name}"] = float((psnr["gan"] > psnr[name]).mean())
    return scores


def run_mask(
    cfg: DictConfig,
    settings: Settings,
    model: GAN,
    images01: torch.Tensor,
    labels: torch.Tensor | None,
    kind: str,
) -> dict[str, float]:
    """Complete the images under one mask kind; write its grid; return its flat scores."""
    gen = torch.Generator().manual_seed(int(cfg.seed))
    hole = make_masks(kind, len(images01), images01.shape[1:], generator=gen, **cfg.mask_params)
    started = time.perf_counter()
    results = complete_all(cfg, settings.inversion, model, apply_mask(images01, hole), hole, labels)
    seconds = time.perf_counter() - started
    k = min(int(cfg.grid_images), len(images01))
    rows = [images01[:k], torch.where(hole[:k], 0.5, images01[:k])]  # holes shown grey
    rows += [results[name][:k] for name in [*cfg.baselines, "gan_raw", "gan"]]
    grid = image_grid(torch.cat(rows), nrow=k, value_range="unit")
    save_grid(grid, Path(cfg.paths.output_dir) / f"grid_{kind}.png")
    return {f"{kind}/seconds": seconds, **mask_scores(kind, images01, hole, results)}


def run_inpaint(cfg: DictConfig) -> dict[str, float]:
    started = time.perf_counter()
    settings = check_settings(cfg)
    out = Path(cfg.paths.output_dir)
    torch.manual_seed(int(cfg.seed))
    model, stored = load_model(cfg.ckpt_path, GAN, "cnngan-inpaint")
    model = model.to(resolve_device(cfg.device))
    image_shape = tuple(int(s) for s in model.hparams.image_shape)
    images, labels = load_inputs(cfg, stored, image_shape)
    images01 = images.float() / 255
    scores: dict[str, float] = {}
    for kind in settings.masks:
        log.info("inpaint: mask %s on %d images", kind, len(images01))
        scores |= run_mask(cfg, settings, model, images01, labels, kind)
    table = results_table(scores, settings.masks, [*cfg.baselines, "gan"], len(images01))
    (out / "results.md").write_text(table)
    scores["n_images"] = float(len(images01))
    scores["time/wall_s"] = time.perf_counter() - started
    write_metrics(scores, out)
    print(table)
    print(f"grids, results.md and metrics.json in {out}")
    return scores


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="inpaint")
def main(cfg: DictConfig) -> None:
    from cnngan.run.entry import run_entry

    run_entry(cfg, run_inpaint, command="cnngan-inpaint")


if __name__ == "__main__":
    main()
