"""The tests marked `gpu` need a CUDA device: here they are skipped with the reason where none
exists (also under CI=true: CI machines have no GPU). scripts/gpu_check.sh runs them on one."""

from __future__ import annotations

import pytest
import torch

NO_CUDA = "no CUDA device here: the gpu tests run where one is (scripts/gpu_check.sh, docs/gpu.md)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason=NO_CUDA)
    for item in items:
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)


def needs_gpus(count: int) -> pytest.MarkDecorator:
    """Skip unless at least `count` CUDA devices are visible."""
    found = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return pytest.mark.skipif(found < count, reason=f"needs {count} CUDA devices, {found} here")
