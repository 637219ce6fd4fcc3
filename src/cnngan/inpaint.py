"""cnngan-inpaint: image completion by GAN inversion, measured against simple baselines.

    cnngan-inpaint ckpt_path=logs/train/runs/<gan run>/checkpoints/last.ckpt
    cnngan-inpaint ckpt_path=... mask=center n=1000
    cnngan-inpaint ckpt_path=... input=my_images/ mask=left_half

For every mask it completes n images with the GAN (latent optimization, see
`cnngan.apps.inversion`) and with the baselines, computes PSNR and SSIM on the hole, writes
`grid_<mask>.png` (rows: original, masked input, each baseline, G(z), GAN completion),
`results.md` and `metrics.json` (`<mask>/<method>/psnr`, `.../ssim`, ...) to the run dir.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from cnngan import config_dir

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if torch.backends.mps.is_available() else torch.device("cpu")
    return torch.device(name)


def load_image_files(path: str | Path, image_shape: tuple[int, ...]) -> torch.Tensor:
    """uint8 images (N, C, H, W) from an image file or a folder of them, resized to the GAN's shape."""
    from PIL import Image

    path = Path(path)
    files = (
        [path]
        if path.is_file()
        else sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    )
    if not files:
        raise FileNotFoundError(
            f"input={path}: no image file there (looked for {', '.join(IMAGE_SUFFIXES)})"
        )
    c, h, w = image_shape
    images = []
    for f in files:
        img = Image.open(f).convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR)
        array = np.asarray(img, dtype=np.uint8).reshape(h, w, c)
        images.append(torch.from_numpy(array.copy()).permute(2, 0, 1))
    return torch.stack(images)


def load_inputs(
    cfg: DictConfig, stored: dict[str, Any], image_shape: tuple[int, ...]
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """uint8 images and (for the test split) labels."""
    if str(cfg.input) == "test":
        data = OmegaConf.create(stored["data"])
        data.data_dir = cfg.paths.data_dir
        datamodule = hydra.utils.instantiate(data)
        datamodule.setup("test")
        images, labels = datamodule.test_set.images, datamodule.test_set.labels
    else:
        images, labels = load_image_files(cfg.input, image_shape), None
    if tuple(images.shape[1:]) != tuple(image_shape):
        raise ValueError(
            f"images of shape {list(images.shape[1:])}, the GAN makes {list(image_shape)}"
        )
    n = len(images) if cfg.n is None else min(int(cfg.n), len(images))
    return images[:n], None if labels is None else labels[:n]


def summarize(values: np.ndarray) -> dict[str, float]:
    finite = values[np.isfinite(values)]
    return {
        "mean": float(finite.mean()),
        "std": float(finite.std(ddof=1)) if len(finite) > 1 else 0.0,
        "sem": float(finite.std(ddof=1) / np.sqrt(len(finite))) if len(finite) > 1 else 0.0,
    }


def complete_all(
    cfg: DictConfig,
    model: Any,
    images01: torch.Tensor,
    hole: torch.Tensor,
    labels: torch.Tensor | None,
) -> dict[str, torch.Tensor]:
    """Every method's completion of the images in [0, 1] (plus the raw G(z))."""
    from cnngan.apps.baselines import BASELINES
    from cnngan.apps.inversion import InversionConfig, inpaint

    hp = model.hparams
    results = {name: BASELINES[name](images01, hole) for name in cfg.baselines}
    generator = model.sampling_generator(cfg.use_ema)
    conditional = bool(hp.get("conditional", False))
    gan_in = images01 * 2 - 1
    completed, raw = inpaint(
        generator,
        gan_in.to(model.device),
        hole.to(model.device),
        int(hp.latent_dim),
        InversionConfig(**OmegaConf.to_container(cfg.inversion, resolve=True)),
        labels=labels if conditional and cfg.use_labels and labels is not None else None,
        num_classes=int(hp.num_classes) if conditional else None,
        discriminator=model.discriminator if cfg.inversion.d_weight > 0 else None,
    )
    results["gan_raw"] = ((raw.cpu() + 1) / 2).clamp(0, 1)
    results["gan"] = ((completed.cpu() + 1) / 2).clamp(0, 1)
    return results


def save_grid(path: Path, rows: list[torch.Tensor]) -> None:
    """One row per method; images in [0, 1]."""
    from torchvision.utils import save_image

    stacked = torch.cat(rows)
    save_image(stacked, path, nrow=rows[0].shape[0], padding=2, pad_value=1.0)


def run_mask(
    cfg: DictConfig,
    model: Any,
    images01: torch.Tensor,
    labels: torch.Tensor | None,
    kind: str,
    out: Path,
) -> dict[str, Any]:
    from cnngan.apps.masks import apply_mask, make_masks
    from cnngan.apps.quality import masked_psnr, masked_ssim

    gen = torch.Generator().manual_seed(int(cfg.seed))
    hole = make_masks(kind, len(images01), images01.shape[1:], generator=gen, **cfg.mask_params)
    masked = apply_mask(images01, hole, fill=0.0)
    started = time.perf_counter()
    results = complete_all(cfg, model, masked, hole, labels)
    seconds = time.perf_counter() - started
    metrics: dict[str, Any] = {"seconds": seconds}
    for name, completed in results.items():
        if name == "gan_raw":
            continue
        psnr, ssim = masked_psnr(completed, images01, hole), masked_ssim(completed, images01, hole)
        metrics[name] = {"psnr": summarize(psnr), "ssim": summarize(ssim), "_psnr": psnr}
    gan_psnr = metrics["gan"]["_psnr"]
    for name in cfg.baselines:
        metrics["gan"][f"wins_vs_{name}"] = float((gan_psnr > metrics[name]["_psnr"]).mean())
    k = min(int(cfg.grid_images), len(images01))
    rows = [images01[:k], torch.where(hole[:k], 0.5, images01[:k])]  # holes shown grey
    rows += [results[name][:k] for name in cfg.baselines] + [
        results["gan_raw"][:k],
        results["gan"][:k],
    ]
    save_grid(out / f"grid_{kind}.png", rows)
    for value in metrics.values():
        if isinstance(value, dict):
            value.pop("_psnr", None)
    return metrics


def results_table(all_metrics: dict[str, Any], methods: list[str], n: int) -> str:
    lines = [
        f"PSNR (dB) and SSIM on the missing pixels, mean ± std over {n} images; GAN wins = share of "
        "images where the GAN's PSNR beats the baseline's.",
        "",
        "| mask | method | PSNR | SSIM |",
        "|---|---|---|---|",
    ]
    for kind, metrics in all_metrics.items():
        for name in methods:
            p, s = metrics[name]["psnr"], metrics[name]["ssim"]
            lines.append(
                f"| {kind} | {name} | {p['mean']:.2f} ± {p['std']:.2f} | {s['mean']:.3f} ± {s['std']:.3f} |"
            )
        wins = ", ".join(
            f"{metrics['gan'][f'wins_vs_{b}']:.0%} vs {b}" for b in methods if b != "gan"
        )
        lines.append(f"| {kind} | GAN wins | {wins} | |")
    return "\n".join(lines) + "\n"


def flatten(all_metrics: dict[str, Any]) -> dict[str, float]:
    flat = {}
    for kind, metrics in all_metrics.items():
        for name, value in metrics.items():
            if isinstance(value, dict):
                for metric, stats in value.items():
                    if isinstance(stats, dict):
                        for stat, v in stats.items():
                            flat[
                                f"{kind}/{name}/{metric}" + ("" if stat == "mean" else f"_{stat}")
                            ] = v
                    else:
                        flat[f"{kind}/{name}/{metric}"] = stats
            else:
                flat[f"{kind}/{name}"] = value
    return flat


def run_inpaint(cfg: DictConfig) -> dict[str, float]:
    from cnngan.utils.checkpoint import model_from_checkpoint
    from cnngan.utils.metrics_file import write_metrics
    from cnngan.utils.rank import log

    started = time.perf_counter()
    out = Path(cfg.paths.output_dir)
    torch.manual_seed(int(cfg.seed))
    model, stored = model_from_checkpoint(cfg.ckpt_path)
    if not callable(getattr(model, "sampling_generator", None)):
        raise ValueError(
            f"{cfg.ckpt_path} is not a GAN checkpoint (cnngan-inpaint needs a generator)"
        )
    model.to(pick_device(cfg.device))
    image_shape = tuple(int(s) for s in model.hparams.image_shape)
    images, labels = load_inputs(cfg, stored, image_shape)
    images01 = images.float() / 255.0
    kinds = [cfg.mask] if isinstance(cfg.mask, str) else list(cfg.mask)
    kinds = [k.strip() for kind in kinds for k in str(kind).split(",") if k.strip()]
    all_metrics = {}
    for kind in kinds:
        log.info("inpaint: mask %s on %d images", kind, len(images01))
        all_metrics[kind] = run_mask(cfg, model, images01, labels, kind, out)
    methods = list(cfg.baselines) + ["gan"]
    table = results_table(all_metrics, methods, len(images01))
    (out / "results.md").write_text(table)
    flat = flatten(all_metrics)
    flat["n_images"] = float(len(images01))
    flat["time/wall_s"] = time.perf_counter() - started
    write_metrics(flat, out)
    print(table)
    print(f"grids, results.md and metrics.json in {out}")
    return flat


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="inpaint")
def main(cfg: DictConfig) -> None:
    from cnngan.utils.entry import run_entry

    run_entry(cfg, run_inpaint, command="cnngan-inpaint")


if __name__ == "__main__":
    main()
