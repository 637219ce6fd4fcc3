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


def parse_labels(labels: Any, n: int, num_classes: int) -> torch.Tensor | None:
    """labels=null -> balanced/none; an int -> that class for all n; a list -> repeated to n."""
    if labels is None:
        return None
    values = [int(labels)] if isinstance(labels, int | str) else [int(v) for v in labels]
    if not values or any(not 0 <= v < num_classes for v in values):
        raise ValueError(f"labels={labels} must be class indices in [0, {num_classes - 1}]")
    return torch.tensor(values * math.ceil(n / len(values)))[:n]


def load_gan(ckpt_path: str, device: str) -> tuple[Any, dict[str, Any]]:
    from cnngan.models.gan import GAN
    from cnngan.utils.checkpoint import CheckpointError, model_from_checkpoint

    model, config = model_from_checkpoint(ckpt_path)
    if not isinstance(model, GAN):
        raise CheckpointError(
            f"{ckpt_path} holds a {type(model).__name__}, not a GAN; cnngan-sample needs a checkpoint "
            "of a GAN experiment (e.g. experiment=gan_dcgan)"
        )
    return model.to(device), config


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def sample(cfg: DictConfig) -> dict[str, Path]:
    """Write the grid, the tensor file and (optionally) the interpolation grid; return their paths."""
    from cnngan.callbacks.sample_grid import image_grid, save_grid
    from cnngan.utils.rank import log

    device = resolve_device(cfg.device)
    gan, _ = load_gan(cfg.ckpt_path, device)
    hp = gan.hparams
    n = int(cfg.n)
    if n < 1:
        raise ValueError(f"n={n} must be at least 1")
    use_ema = bool(cfg.use_ema) and gan.generator_ema is not None
    if cfg.use_ema and gan.generator_ema is None:
        log.info("the checkpoint has no EMA generator; sampling with the trained generator")
    labels = parse_labels(cfg.labels, n, hp.num_classes) if hp.conditional else None
    if cfg.labels is not None and not hp.conditional:
        raise ValueError("labels=... needs a conditional GAN; this one is unconditional")
    if hp.conditional and labels is None:  # one class per row, rows cycling through the classes
        labels = torch.arange(n) // (cfg.nrow or hp.num_classes) % hp.num_classes
    generator = torch.Generator().manual_seed(int(cfg.seed))
    z = torch.randn(n, hp.latent_dim, generator=generator)
    images = torch.cat(
        [
            gan.decode(
                z[i : i + cfg.batch_size],
                None if labels is None else labels[i : i + cfg.batch_size],
                use_ema,
            )
            for i in range(0, n, cfg.batch_size)
        ]
    ).cpu()
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    nrow = cfg.nrow or (hp.num_classes if hp.conditional else max(1, round(math.sqrt(n))))
    paths = {"grid": save_grid(image_grid(images, nrow), out_dir / "samples.png")}
    payload: dict[str, Any] = {
        "images": ((images + 1) * 127.5).round().clamp(0, 255).to(torch.uint8),
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
    from cnngan.callbacks.sample_grid import image_grid, save_grid

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
    return save_grid(image_grid(images, steps), out_dir / "interpolation.png")


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="sample")
def main(cfg: DictConfig) -> None:
    from cnngan.utils.entry import run_entry

    run_entry(cfg, sample, command="cnngan-sample")


if __name__ == "__main__":
    main()
