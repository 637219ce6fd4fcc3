"""Wall-clock and CPU-time clocks, and the timed window of a step loop."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

Seconds = tuple[float, float]  # (wall, CPU of this process)


def clock() -> Seconds:
    """(wall seconds, CPU seconds of this process): CPU time barely changes when other processes
    take the cores, wall time does."""
    return time.perf_counter(), time.process_time()


def elapsed(start: Seconds) -> Seconds:
    wall, cpu = clock()
    return wall - start[0], cpu - start[1]


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so that a clock reading covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_loop(step: Callable[[], None], warmup: int, steps: int, device: torch.device) -> Seconds:
    """(wall, CPU) seconds taken by `steps` calls of step() after `warmup` untimed ones."""
    for _ in range(warmup):
        step()
    sync(device)
    start = clock()
    for _ in range(steps):
        step()
    sync(device)
    return elapsed(start)
