"""Which torch device a command runs on: the one place that turns "auto" into a device; and the
CUDA availability check that costs every optimizer step on a machine without the NVIDIA driver."""

from __future__ import annotations

import ctypes
import os

import torch


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """ "auto" -> CUDA if available, else Apple MPS if available, else CPU; anything else as given."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        return torch.device("mps" if mps is not None and mps.is_available() else "cpu")
    return torch.device(name)


NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"


def drop_nvml_check_without_nvml() -> bool:
    """Unset `PYTORCH_NVML_BASED_CUDA_CHECK` where NVML (the NVIDIA driver's library) is missing;
    True where it was unset.

    Lightning sets it at import, so that `torch.cuda.is_available()` asks NVML instead of
    initializing CUDA, which would make forked processes unable to use the GPU. Without NVML that
    ask fails, and torch repeats it at every call: Adam's and AdamW's `step()` call it once per
    optimizer step, about 45 us each on a 2-core AMD EPYC with torch's CUDA build (CPU training).
    Without the driver there is no CUDA to initialize and no fork to spoil, so the plain check,
    which torch answers from a cached driver query (about 2 us), is as safe.
    """
    if os.environ.get(NVML_CHECK) != "1" or not torch.backends.cuda.is_built():
        return False
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        del os.environ[NVML_CHECK]
        return True
    return False
