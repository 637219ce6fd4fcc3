"""Shared fixtures: real Hydra composition of the project's configs, outputs under tmp_path."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import torch
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig

from cnngan.run.compose import compose_config as _compose_config

REPO_ROOT = Path(__file__).resolve().parents[1]
FASHION_MNIST_DEBIAN = Path("/usr/share/datasets/fashion-mnist")

torch.set_num_threads(min(2, os.cpu_count() or 1))


def compose_config(
    config_name: str, overrides: Sequence[str] = (), output_dir: Path | None = None
) -> DictConfig:
    """The project's one `compose_config`, with the repository as root (data under data/)."""
    return _compose_config(config_name, overrides, output_dir, root_dir=REPO_ROOT)


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


def skip_or_fail(reason: str) -> None:
    """Skip a test whose environment is missing here; under CI=true fail it instead (CI promises
    the full environment: root, SLURM, tmpfs mounts), so nothing silently stops being tested."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"cannot run on CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def require_fashion_mnist(has_fashion_mnist: bool) -> None:
    if not has_fashion_mnist:
        pytest.fail(
            "Fashion-MNIST is missing: run `sudo apt-get install -y dataset-fashion-mnist` "
            "(what .ci/run does) or put the IDX files in data/FashionMNIST/raw"
        )
