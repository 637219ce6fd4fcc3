"""Checks that turn a GAN config mistake into a message naming the config value to change."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from cnngan.models.compiling import compile_options
from cnngan.models.gan.ema import check_decay
from cnngan.models.optimization import check_interval


def check_gan_config(hp: Mapping[str, Any], generator: nn.Module, discriminator: nn.Module) -> None:
    """Raise ValueError for settings that cannot work together (`hp`: the GAN's hparams)."""
    if hp["n_critic"] < 1:
        raise ValueError(f"n_critic={hp['n_critic']} must be at least 1")
    penalties = hp["r1_gamma"] > 0 or hp["gp_weight"] > 0
    if compile_options(hp["compile"]) is not None and penalties:
        raise ValueError("model.compile=true cannot run gradient penalties (double backward)")
    check_decay(hp["ema_decay"])
    check_interval(hp["scheduler_interval"])
    check_nets_agree(hp, {"generator": generator, "discriminator": discriminator})
    batch_norm_d = any(
        isinstance(m, nn.modules.batchnorm._BatchNorm) for m in discriminator.modules()
    )
    if penalties and batch_norm_d:
        raise ValueError(
            "gradient penalties (gp_weight, r1_gamma) need a discriminator without batch norm "
            "(it mixes the samples of a batch): set model.discriminator.norm=layer or none"
        )
    if hp["d_joint_batch"] and batch_norm_d:
        raise ValueError(
            "model.d_joint_batch=true needs a discriminator without batch norm: D would "
            "normalize mixed real+fake batches in its steps but fakes alone in G's step, and "
            "training collapses; set model.discriminator.norm=layer or none, or "
            "model.d_joint_batch=false"
        )


def check_nets_agree(hp: Mapping[str, Any], nets: Mapping[str, nn.Module]) -> None:
    """The nets' own shape attributes (where they have them) must match the model's; a
    self-conditioned GAN's nets take `self_cond_clusters` labels, and it takes no classes."""
    clusters = int(hp.get("self_cond_clusters") or 0)
    if clusters and hp["conditional"]:
        raise ValueError(
            f"model.self_cond_clusters={clusters} conditions on clusters instead of classes: "
            "set model.conditional=false (or model.self_cond_clusters=0 for class labels)"
        )
    if clusters:
        labels = {"conditional": True, "num_classes": clusters}
    else:
        labels = {"conditional": hp["conditional"]}
        labels |= {"num_classes": hp["num_classes"]} if hp["conditional"] else {}
    expected = {"image_shape": tuple(hp["image_shape"])} | labels
    for name, net in nets.items():
        wanted = expected | ({"latent_dim": hp["latent_dim"]} if name == "generator" else {})
        for attr, value in wanted.items():
            found = getattr(net, attr, value)
            if found == value:
                continue
            if clusters and attr in labels:
                raise ValueError(
                    f"model.{name}.{attr}={found} but model.self_cond_clusters={clusters} needs "
                    f"{value} (experiment=gan_dcgan_selfcond sets the nets up)"
                )
            raise ValueError(
                f"model.{name}.{attr}={found} but model.{attr}={value}; they must agree"
            )


def check_real_range(real: torch.Tensor) -> None:
    """Real images must be in the generator's range [-1, 1] (tanh output)."""
    low, high = float(real.min()), float(real.max())
    if low < -1.01 or high > 1.01:
        raise ValueError(
            f"real images span [{low:.2f}, {high:.2f}] but the generator outputs [-1, 1]: "
            "set data.normalize=minus_one_one (mean = std = 0.5, as the GAN experiments do)"
        )
