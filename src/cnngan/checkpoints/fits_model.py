"""A checkpoint given to `cnngan-train ckpt_path=...` must hold weights of the shapes that the
run's config builds. Otherwise Lightning fails deep inside `load_state_dict` with a list of every
mismatched tensor; this says which model settings differ and how to pass them instead.

The usual cause is a default that moved since the checkpoint was written (`make train`'s ConvNet
went from 16-32-64 to 32-64-128 channels on 2026-12-07): the checkpoint's own config, stored in
it by `cnngan-train`, says what it was trained with.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from cnngan.checkpoints.files import CheckpointError, checkpoint_config, load_checkpoint

SHOWN = 4  # differing settings named in the message
NETS = ("model.net.", "model.generator.", "model.discriminator.")


def check_fits_model(
    path: str | Path, model: torch.nn.Module, model_config: Mapping[str, Any]
) -> None:
    """Raise a `CheckpointError` naming the differing settings when the weights in `path` do not
    fit `model` (built from `model_config`, this run's resolved `model` config)."""
    checkpoint = load_checkpoint(path)
    saved: Mapping[str, torch.Tensor] = checkpoint["state_dict"]
    wanted = model.state_dict()
    misfits = [
        f"{name}: {list(saved[name].shape)} in the checkpoint, {list(tensor.shape)} here"
        for name, tensor in wanted.items()
        if name in saved and saved[name].shape != tensor.shape
    ]
    if not misfits:  # names alone may differ: a model may rename an earlier layout's on loading
        return
    saved_model = checkpoint_config(checkpoint).get("model", {})
    differing = [
        f"model.{key}={_value(theirs)} (this run: {_value(ours)})"
        for key, theirs, ours in _differences(saved_model, model_config)
    ]
    differing.sort(key=lambda setting: not setting.startswith(NETS))  # shapes come from the nets
    settings = (
        f" It was trained with {', '.join(differing[:SHOWN])}"
        f"{' and more' if len(differing) > SHOWN else ''}."
        if differing
        else ""
    )
    raise CheckpointError(
        f"checkpoint {path} holds a model of another shape than this run's config builds "
        f"({misfits[0]}; {len(misfits)} tensors differ).{settings} Pass those settings "
        "with ckpt_path (the config_resolved.yaml of the checkpoint's run folder has them all), "
        f"or test it with `cnngan-eval ckpt_path={path}`, which builds the model it was trained "
        "with."
    )


def _differences(theirs: Any, ours: Any, prefix: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(dotted key, their value, our value) for every leaf that differs between two configs."""
    if isinstance(theirs, Mapping) and isinstance(ours, Mapping):
        for key in (key for key in theirs if key in ours):
            yield from _differences(theirs[key], ours[key], f"{prefix}{key}.")
    elif theirs != ours:
        yield prefix.rstrip("."), theirs, ours


def _value(value: Any) -> str:
    """A config value as it is written on the command line."""
    if isinstance(value, list | tuple):
        return "[" + ",".join(_value(v) for v in value) + "]"
    return "null" if value is None else str(value)
