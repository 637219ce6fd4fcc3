"""The synthetic pool of the augmentation study: labelled images drawn once from a conditional GAN.

Images are stored as uint8 exactly like the real ones, so the data module's on-device
normalization and augmentation treat both alike.
"""

from __future__ import annotations

from pathlib import Path

import torch

from cnngan.apps.gan_checkpoint import load_gan
from cnngan.checkpoints.files import CheckpointError
from cnngan.core.errors import MissingInputError
from cnngan.core.image_io import to_uint8


def check_gan_file(ckpt_path: str | Path | None, needed_by: str) -> Path:
    """The checkpoint path, or one line that says which stage of the study makes it."""
    if not ckpt_path or not Path(ckpt_path).is_file():
        raise MissingInputError(
            f"{needed_by}={ckpt_path} does not exist: train that conditional GAN first "
            "(scripts/augmentation_study.py runs the GAN stages before the classifier grid), "
            f"point {needed_by} at a conditional GAN checkpoint, or set data.synthetic.ratio=0"
        )
    return Path(ckpt_path)


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
    ckpt_path = check_gan_file(ckpt_path, "data.synthetic.ckpt_path")
    model, _ = load_gan(ckpt_path, "data.synthetic.ckpt_path", conditional=True)
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
