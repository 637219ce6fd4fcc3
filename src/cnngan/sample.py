"""cnngan-sample: images from a trained GAN checkpoint, as a PNG grid and a tensor file.

    cnngan-sample ckpt_path=logs/train/runs/<run>/checkpoints/last.ckpt n=100
    cnngan-sample ckpt_path=... n=64 labels=7             # a conditional GAN: class 7 only
    cnngan-sample ckpt_path=... per_class=8               # 8 images of every class, a row each
    cnngan-sample ckpt_path=... truncation=0.5            # the truncation trick: less variety
    cnngan-sample ckpt_path=... interpolate=true          # also a latent interpolation grid

Writes into the run dir (logs/sample/runs/<timestamp>/, or out_dir=...):
  samples.png        the n images as a grid (one class per row for a conditional GAN)
  samples.pt         {"images": uint8 (n, C, H, W), "labels": int64 (n,) or absent, ...};
                     load with torch.load(path, weights_only=True) (cnngan-eval samples_path=...)
  interpolation.png  with interpolate=true: each row walks from one latent vector to another
                     (spherical interpolation; a conditional GAN keeps one class per row)
The EMA generator is used when the checkpoint has one (use_ema=false for the trained one).

truncation=t is the truncation trick of BigGAN (Brock et al. 2019) for the Gaussian latent: every
component of z is drawn from the standard normal truncated to [-t, t] (the same distribution as
redrawing each component with |z_i| > t until it is not). Smaller t trades variety for typical,
cleaner images; t = 3 keeps 99.7% of the standard normal (almost no truncation); null = off
(plain N(0, I)).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig

from cnngan import config_dir
from cnngan.checkpoints.model import load_model
from cnngan.core.device import resolve_device
from cnngan.core.errors import BadInputError, require_positive
from cnngan.core.image_io import grid_layout, image_grid, row_labels, save_grid, to_uint8
from cnngan.models import GAN
from cnngan.models.gan.sampling import check_truncation, latent_noise


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of a and b at fractions t: (N, D), (N, D), (T,) ->
    (N, T, D). Gaussian latents keep their typical norm on the way (a straight line would pass
    through low-norm, atypical points)."""
    a_n, b_n = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    omega = torch.acos((a_n * b_n).sum(1).clamp(-1 + 1e-7, 1 - 1e-7))[:, None, None]  # (N, 1, 1)
    t = t[None, :, None]
    sin = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / sin) * a[:, None] + (torch.sin(t * omega) / sin) * b[
        :, None
    ]


def class_list(labels: Any, num_classes: int) -> list[int]:
    """labels=<int> -> [that class]; labels=<list> -> the list; checked against num_classes."""
    try:
        values = [int(labels)] if isinstance(labels, int | str) else [int(v) for v in labels]
    except (TypeError, ValueError):
        values = []
    if not values or any(not 0 <= v < num_classes for v in values):
        raise BadInputError(
            f"labels={labels} must be class indices in [0, {num_classes - 1}]: one (labels=3) "
            "or a list (labels=[0,5])"
        )
    return values


def parse_labels(labels: Any, n: int, num_classes: int) -> torch.Tensor:
    """labels=<int> -> that class for all n; labels=<list> -> the list repeated to n."""
    values = class_list(labels, num_classes)
    return torch.tensor(values * math.ceil(n / len(values)))[:n]


def check_counts(cfg: DictConfig) -> None:
    """Fail before loading anything on counts that cannot make an image."""
    names = ["n", "batch_size"] + (["interp_rows", "interp_steps"] if cfg.interpolate else [])
    optional = [name for name in ("nrow", "per_class") if cfg.get(name) is not None]
    for name in names + optional:
        require_positive(name, cfg[name])


def check_labels_fit(cfg: DictConfig, conditional: bool) -> None:
    """labels=... and per_class=... ask for classes, which only a conditional GAN has."""
    for name in ("labels", "per_class"):
        if cfg.get(name) is not None and not conditional:
            raise BadInputError(
                f"{name}={cfg[name]} needs a conditional GAN, and {cfg.ckpt_path} holds an "
                f"unconditional one; drop {name}=... (or sample from a conditional GAN)"
            )


def sample_layout(cfg: DictConfig, hp: Any) -> tuple[int, int, torch.Tensor | None]:
    """(number of images, images per grid row, their labels or None) of the request.

    per_class=k: k images of every class (of `labels`, else all), one row per class; otherwise
    n images, one class per row for a conditional GAN (`grid_layout`), or the classes of
    `labels` repeated.
    """
    num_classes = int(hp.num_classes) if hp.conditional else None
    if cfg.get("per_class") is not None and num_classes is not None:
        per_class = int(cfg.per_class)
        classes = (
            class_list(cfg.labels, num_classes) if cfg.labels is not None else range(num_classes)
        )
        labels = torch.tensor(list(classes)).repeat_interleave(per_class)
        return len(labels), per_class, labels
    n = int(cfg.n)
    nrow, labels = grid_layout(n, cfg.nrow, num_classes)
    if cfg.labels is not None and num_classes is not None:
        labels = parse_labels(cfg.labels, n, num_classes)
    return n, nrow, labels


def sample(cfg: DictConfig) -> dict[str, Path]:
    """Write the grid, the tensor file and (optionally) the interpolation grid; return their paths."""
    from cnngan.core.rank import log

    check_counts(cfg)
    truncation = check_truncation(cfg.get("truncation"))
    gan, _ = load_model(cfg.ckpt_path, GAN, "cnngan-sample")
    gan = gan.to(resolve_device(cfg.device))
    hp = gan.hparams
    check_labels_fit(cfg, bool(hp.conditional))
    use_ema = bool(cfg.use_ema) and gan.has_ema
    if cfg.use_ema and not gan.has_ema:
        log.info("the checkpoint has no EMA generator; sampling with the trained generator")
    n, nrow, labels = sample_layout(cfg, hp)
    generator = torch.Generator().manual_seed(int(cfg.seed))
    z = latent_noise(n, hp.latent_dim, generator, truncation)
    images = gan.decode(z, labels, use_ema, batch_size=int(cfg.batch_size)).cpu()
    out_dir = Path(cfg.out_dir)
    paths = {"grid": save_grid(image_grid(images, nrow, "symmetric"), out_dir / "samples.png")}
    payload: dict[str, Any] = {
        "images": to_uint8(images, "symmetric"),
        "ckpt_path": str(cfg.ckpt_path),
        "use_ema": use_ema,
        "seed": int(cfg.seed),
        "truncation": truncation,
    }
    if labels is not None:
        payload["labels"] = labels.long()
    paths["tensor"] = out_dir / "samples.pt"
    torch.save(payload, paths["tensor"])
    if cfg.interpolate:
        paths["interpolation"] = interpolation_grid(gan, cfg, use_ema, out_dir, truncation)
    for name, path in paths.items():
        log.info("%s: %s", name, path)
    return paths


def interpolation_grid(
    gan: GAN, cfg: DictConfig, use_ema: bool, out_dir: Path, truncation: float | None = None
) -> Path:
    """interp_rows walks of interp_steps images, one per row; one class per row (labels=...:
    those classes) for a conditional GAN. Both ends of a walk are truncated like the samples."""
    hp = gan.hparams
    rows, steps = int(cfg.interp_rows), int(cfg.interp_steps)
    generator = torch.Generator().manual_seed(int(cfg.seed) + 1)
    ends = latent_noise(2 * rows, hp.latent_dim, generator, truncation).view(2, rows, -1)
    z = slerp(ends[0], ends[1], torch.linspace(0, 1, steps)).reshape(rows * steps, hp.latent_dim)
    labels = None
    if hp.conditional:
        labels = row_labels(rows * steps, steps, int(hp.num_classes))
        if cfg.labels is not None:
            labels = parse_labels(cfg.labels, rows, hp.num_classes).repeat_interleave(steps)
    images = gan.decode(z, labels, use_ema).cpu()
    return save_grid(image_grid(images, steps, "symmetric"), out_dir / "interpolation.png")


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="sample")
def main(cfg: DictConfig) -> None:
    from cnngan.run.entry import run_entry

    run_entry(cfg, sample, command="cnngan-sample")


if __name__ == "__main__":
    main()
