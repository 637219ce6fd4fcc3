"""cnngan-sample: images from a trained GAN checkpoint, as a PNG grid and a tensor file.

    cnngan-sample ckpt_path=logs/train/runs/<run>/checkpoints/last.ckpt n=100
    cnngan-sample ckpt_path=... n=64 labels=7             # a conditional GAN: class 7 only
    cnngan-sample ckpt_path=... interpolate=true          # also a latent interpolation grid

Writes into the run dir (logs/sample/runs/<timestamp>/, or out_dir=...):
  samples.png        the n images as a grid (one class per row for a conditional GAN)
  samples.pt         {"images": uint8 (n, C, H, W), "labels": int64 (n,) or absent, ...};
                     load with torch.load(path, weights_only=True) (cnngan-eval samples_path=...)
  interpolation.png  with interpolate=true: each row walks from one latent vector to another
                     (spherical interpolation; a conditional GAN keeps one class per row)
The EMA generator is used when the checkpoint has one (use_ema=false for the trained one).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig

from cnngan import config_dir
from cnngan.apps.gan_checkpoint import load_gan
from cnngan.core.device import resolve_device
from cnngan.core.errors import UserError
from cnngan.core.image_io import image_grid, save_grid, to_uint8


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


class SampleRequestError(UserError, ValueError):
    """A request the GAN cannot serve (n, labels, grid sizes): a user error and a bad value."""


def parse_labels(labels: Any, n: int, num_classes: int) -> torch.Tensor | None:
    """labels=null -> balanced/none; an int -> that class for all n; a list -> repeated to n."""
    if labels is None:
        return None
    try:
        values = [int(labels)] if isinstance(labels, int | str) else [int(v) for v in labels]
    except (TypeError, ValueError):
        values = []
    if not values or any(not 0 <= v < num_classes for v in values):
        raise SampleRequestError(
            f"labels={labels} must be class indices in [0, {num_classes - 1}]: one (labels=3) "
            "or a list (labels=[0,5])"
        )
    return torch.tensor(values * math.ceil(n / len(values)))[:n]


def check_counts(cfg: DictConfig) -> None:
    """Fail before loading anything on counts that cannot make an image."""
    names = ["n", "batch_size"] + (["interp_rows", "interp_steps"] if cfg.interpolate else [])
    if cfg.nrow is not None:
        names.append("nrow")
    for name in names:
        if int(cfg[name]) < 1:
            raise SampleRequestError(f"{name}={cfg[name]} must be at least 1")


def sample_labels(cfg: DictConfig, hp: Any, n: int) -> torch.Tensor | None:
    """The class of every sample: cfg.labels, or one class per row for a conditional GAN."""
    if not hp.conditional:
        if cfg.labels is not None:
            raise SampleRequestError(
                f"labels={cfg.labels} needs a conditional GAN, and {cfg.ckpt_path} holds an "
                "unconditional one; drop labels=... (or sample from a conditional GAN)"
            )
        return None
    if cfg.labels is not None:
        return parse_labels(cfg.labels, n, hp.num_classes)
    return torch.arange(n) // (cfg.nrow or hp.num_classes) % hp.num_classes


def sample(cfg: DictConfig) -> dict[str, Path]:
    """Write the grid, the tensor file and (optionally) the interpolation grid; return their paths."""
    from cnngan.core.rank import log

    check_counts(cfg)
    gan, _ = load_gan(cfg.ckpt_path, "cnngan-sample", resolve_device(cfg.device))
    hp, n = gan.hparams, int(cfg.n)
    use_ema = bool(cfg.use_ema) and gan.has_ema
    if cfg.use_ema and not gan.has_ema:
        log.info("the checkpoint has no EMA generator; sampling with the trained generator")
    labels = sample_labels(cfg, hp, n)
    z = torch.randn(n, hp.latent_dim, generator=torch.Generator().manual_seed(int(cfg.seed)))
    images = gan.decode(z, labels, use_ema, batch_size=int(cfg.batch_size)).cpu()
    out_dir = Path(cfg.out_dir)
    nrow = cfg.nrow or (hp.num_classes if hp.conditional else max(1, round(math.sqrt(n))))
    paths = {"grid": save_grid(image_grid(images, nrow, "symmetric"), out_dir / "samples.png")}
    payload: dict[str, Any] = {
        "images": to_uint8(images, "symmetric"),
        "ckpt_path": str(cfg.ckpt_path),
        "use_ema": use_ema,
        "seed": int(cfg.seed),
    }
    if labels is not None:
        payload["labels"] = labels.long()
    paths["tensor"] = out_dir / "samples.pt"
    torch.save(payload, paths["tensor"])
    if cfg.interpolate:
        paths["interpolation"] = interpolation_grid(gan, cfg, use_ema, out_dir)
    for name, path in paths.items():
        log.info("%s: %s", name, path)
    return paths


def interpolation_grid(gan: Any, cfg: DictConfig, use_ema: bool, out_dir: Path) -> Path:
    hp = gan.hparams
    rows, steps = int(cfg.interp_rows), int(cfg.interp_steps)
    generator = torch.Generator().manual_seed(int(cfg.seed) + 1)
    ends = torch.randn(2, rows, hp.latent_dim, generator=generator)
    z = slerp(ends[0], ends[1], torch.linspace(0, 1, steps)).reshape(rows * steps, hp.latent_dim)
    labels = None
    if hp.conditional:
        row_labels = torch.arange(rows) % hp.num_classes
        if cfg.labels is not None:
            row_labels = parse_labels(cfg.labels, rows, hp.num_classes)
        labels = row_labels.repeat_interleave(steps)
    images = gan.decode(z, labels, use_ema).cpu()
    return save_grid(image_grid(images, steps, "symmetric"), out_dir / "interpolation.png")


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="sample")
def main(cfg: DictConfig) -> None:
    from cnngan.run.entry import run_entry

    run_entry(cfg, sample, command="cnngan-sample")


if __name__ == "__main__":
    main()
