"""Instantiate lists of objects (callbacks, loggers) from a config group of `_target_` entries."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig


def instantiate_list(group: DictConfig | None) -> list[Any]:
    """Instantiate every `_target_` entry of a config group; entries set to null are skipped."""
    import hydra

    if not group:
        return []
    if not isinstance(group, DictConfig):
        raise TypeError(
            f"expected a config group (mapping of name -> config), got {type(group).__name__}"
        )
    objects = []
    for name, conf in group.items():
        if conf is None:
            continue
        if not isinstance(conf, DictConfig) or "_target_" not in conf:
            raise ValueError(
                f"config entry {name!r} has no _target_; every entry must name a class"
            )
        objects.append(hydra.utils.instantiate(conf))
    return objects
