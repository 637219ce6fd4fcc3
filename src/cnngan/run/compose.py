"""Compose a project config outside the command line (tests, scripts, notebooks): one helper."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, open_dict


def compose_config(
    config_name: str = "train",
    overrides: Sequence[str] = (),
    output_dir: str | Path | None = None,
    root_dir: str | Path | None = None,
) -> DictConfig:
    """Compose `conf/<config_name>.yaml` with `overrides` exactly as the command line would.

    The Hydra runtime config is installed too, so `${hydra:...}` interpolations resolve and the
    entry-point functions (train, evaluate, ...) can be called in-process. With `output_dir`, every
    output of the run goes there and the config tree is not printed; `root_dir` sets
    `paths.root_dir` (and so the default data folder `<root_dir>/data`).
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    from cnngan import config_dir

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=list(overrides), return_hydra_config=True)
    with open_dict(cfg):
        if root_dir is not None:
            cfg.paths.root_dir = str(root_dir)
    if output_dir is not None:
        output_dir = str(output_dir)
        with open_dict(cfg):
            cfg.paths.log_dir = output_dir
            cfg.paths.output_dir = output_dir
            cfg.hydra.runtime.output_dir = output_dir
            cfg.hydra.job.num = 0
            if "extras" in cfg:
                cfg.extras.print_config = False
    HydraConfig().set_config(cfg)
    return cfg
