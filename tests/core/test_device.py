"""The CUDA availability check on a machine without the NVIDIA driver: Lightning's NVML-based
check fails at every call there (Adam calls it every step), so building a Trainer drops it."""

from __future__ import annotations

import ctypes
import os

import pytest
import torch

from cnngan.core.device import NVML_CHECK, drop_nvml_check_without_nvml


def nvml_present() -> bool:
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return False
    return True


@pytest.mark.skipif(nvml_present(), reason="NVML is present: the NVML check works and stays")
@pytest.mark.skipif(not torch.backends.cuda.is_built(), reason="a CPU-only torch never asks")
def test_building_a_trainer_drops_the_failing_nvml_check(monkeypatch):
    import lightning  # noqa: F401  (sets the variable at import)

    from cnngan.run.trainer import build_trainer

    monkeypatch.setenv(NVML_CHECK, "1")
    build_trainer(accelerator="cpu", logger=False, enable_checkpointing=False)
    assert NVML_CHECK not in os.environ
    # the answers are the same without it: no CUDA here
    assert torch.cuda.is_available() is False
    assert torch.accelerator.current_accelerator(check_available=True) is None
    assert drop_nvml_check_without_nvml() is False  # nothing left to drop


def test_an_unset_check_is_left_alone(monkeypatch):
    monkeypatch.delenv(NVML_CHECK, raising=False)
    assert drop_nvml_check_without_nvml() is False
    assert NVML_CHECK not in os.environ
