"""The synthetic pool of the augmentation study: labelled images drawn once from a conditional GAN.

Images are stored as uint8 exactly like the real ones, so the data module's on-device
normalization and augmentation treat both alike.
"""

from __future__ import annotations

from pathlib import Path

import torch

from cnngan.checkpoints.files import CheckpointError
from cnngan.checkpoints.model import load_model
from cnngan.core.image_io import to_uint8
from cnngan.models.gan.module import GAN


def load_conditional_gan(ckpt_path: str | Path | None, needed_by: str) -> GAN:
    """The conditional GAN of `ckpt_path`, or one line that says which stage of the study makes it."""
    fix = (
        "train that conditional GAN first (scripts/augment_study runs the GAN stages before the "
        f"classifier grid), point {needed_by} at a conditional GAN checkpoint, or set "
        "data.synthetic.ratio=0"
    )
    model, _ = load_model(ckpt_path, GAN, needed_by, fix=fix)
    if not model.hparams.conditional:
        raise CheckpointError(
            f"{ckpt_path} holds an unconditional GAN; {needed_by} needs a conditional one "
            "(trained with model.conditional=true, e.g. experiment=augment_gan)"
        )
    return model


def sample_conditional_gan(
    ckpt_path: str | Path,
    per_class: int,
    num_classes: int,
    image_shape: tuple[int, ...],
    seed: int = 0,
    use_ema: bool = True,
    batch_size: int = 1000,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`per_class` uint8 images of every class from a conditional GAN checkpoint, and labels."""
    model = load_conditional_gan(ckpt_path, "data.synthetic.ckpt_path")
    hp = model.hparams
    if int(hp.num_classes) != num_classes or tuple(hp.image_shape) != tuple(image_shape):
        raise CheckpointError(
            f"{ckpt_path}: the GAN makes {hp.num_classes} classes of shape "
            f"{list(hp.image_shape)}, the data has {num_classes} of shape {list(image_shape)}; "
            "give data.synthetic.ckpt_path a GAN trained on this dataset"
        )
    labels = torch.arange(num_classes).repeat_interleave(per_class)
    gen = torch.Generator().manual_seed(seed)
    images = []
    for chunk in labels.split(batch_size):
        z = torch.randn(len(chunk), int(hp.latent_dim), generator=gen)
        images.append(to_uint8(model.decode(z, chunk, use_ema=use_ema).cpu(), "symmetric"))
    return torch.cat(images), labels
