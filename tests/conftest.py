"""Shared fixtures: real Hydra composition of the project's configs, outputs under tmp_path."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from cnngan import config_dir

REPO_ROOT = Path(__file__).resolve().parents[1]
FASHION_MNIST_DEBIAN = Path("/usr/share/datasets/fashion-mnist")

torch.set_num_threads(min(2, os.cpu_count() or 1))


def compose_config(
    config_name: str, overrides: Sequence[str] = (), output_dir: Path | None = None
) -> DictConfig:
    """Compose a config exactly as the command line would, with all outputs under output_dir.

    The Hydra runtime config is installed too, so `${hydra:...}` interpolations resolve and the
    entry-point functions (train, evaluate, ...) can be called in-process.
    """
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=list(overrides), return_hydra_config=True)
    if output_dir is not None:
        with open_dict(cfg):
            cfg.paths.root_dir = str(REPO_ROOT)
            cfg.paths.log_dir = str(output_dir)
            cfg.paths.output_dir = str(output_dir)
            cfg.hydra.runtime.output_dir = str(output_dir)
            cfg.hydra.job.num = 0
            if "extras" in cfg:
                cfg.extras.print_config = False
    HydraConfig().set_config(cfg)
    return cfg


@pytest.fixture
def make_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    """make_cfg("train", ["debug=fdr", ...]) -> composed config writing under tmp_path."""

    def _make(
        config_name: str = "train", overrides: Sequence[str] = (), subdir: str = "run"
    ) -> DictConfig:
        out = tmp_path / subdir
        out.mkdir(parents=True, exist_ok=True)
        return compose_config(config_name, overrides, out)

    yield _make
    GlobalHydra.instance().clear()


@pytest.fixture(scope="session")
def has_fashion_mnist() -> bool:
    data_dir = REPO_ROOT / "data" / "FashionMNIST" / "raw"
    return FASHION_MNIST_DEBIAN.is_dir() or data_dir.is_dir()


@pytest.fixture
def require_fashion_mnist(has_fashion_mnist: bool) -> None:
    if not has_fashion_mnist:
        pytest.fail(
            "Fashion-MNIST is missing: run `sudo apt-get install -y dataset-fashion-mnist` "
            "(what .ci/run does) or put the IDX files in data/FashionMNIST/raw"
        )
