"""Speed helpers shared by the benchmark and the start-up timer: thread pinning, machine
description, process start time. No Lightning import here (the plain-loop side of
the benchmark must not pay for it)."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any


def pin_threads(threads: int | None = None) -> int:
    """Fix torch's intra-op thread count (default: every usable core) so that contenders compare
    fairly and a busy machine does not change it between them. Returns the count."""
    import torch

    threads = int(threads or usable_cores())
    torch.set_num_threads(threads)
    return threads


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity), else the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def process_start_time() -> float:
    """Unix time at which this process started (the OS's record, so interpreter start-up and
    imports count); falls back to the import time of this module."""
    try:
        import psutil

        return psutil.Process().create_time()
    except Exception:  # psutil missing or not permitted
        pass
    try:  # Linux: start time in clock ticks after boot (/proc/self/stat field 22)
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime")
        )
        return boot + float(fields[19]) / os.sysconf("SC_CLK_TCK")
    except Exception:
        return _IMPORTED_AT


_IMPORTED_AT = time.time()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """What a benchmark number depends on: CPU, cores, memory, library versions, GPU, load."""
    import torch

    info: dict[str, Any] = {
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable_cores(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "gpu": None,
    }
    try:
        import psutil

        info["physical_cores"] = psutil.cpu_count(logical=False)
        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except Exception:
        pass
    try:
        from importlib.metadata import version

        info["lightning"] = version("lightning")
    except Exception:
        pass
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpu_count"] = torch.cuda.device_count()
        info["cuda"] = torch.version.cuda
    if hasattr(os, "getloadavg"):
        info["load_avg_1min_at_start"] = round(os.getloadavg()[0], 2)
    return info
