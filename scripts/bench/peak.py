"""The machine's measured peak: GFLOP/s of one large matrix multiply and one large convolution,
per precision, timed in the same process (same threads, same load) as the training steps.

A peak here is the best of a few timed repetitions (each repeats the op for at least
`min_seconds`): a neighbour's load only ever slows an op down, so the fastest repetition is the
closest to what the chip can do. FLOPs are counted by the same FlopCounterMode as the steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from bench.timing import clock, sync

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}

# (matmul n, conv (batch, channels, height/width)): large enough to run at full speed, small
# enough for a few tenths of a second per repetition
SIZES = {"cpu": (2048, (64, 128, 32)), "cuda": (8192, (256, 256, 56))}
QUICK_SIZES = {"cpu": (1024, (16, 64, 32)), "cuda": (4096, (64, 256, 56))}


def counted_flops(op: Callable[[], Any]) -> int:
    with FlopCounterMode(display=False) as counter:
        op()
    return counter.get_total_flops()


def best_gflops(
    op: Callable[[], Any], device: torch.device, repeats: int = 3, min_seconds: float = 0.25
) -> float:
    """GFLOP/s of `op`: the fastest of `repeats` timed repetitions (after one untimed call)."""
    flops = counted_flops(op)
    op()
    sync(device)
    best = 0.0
    for _ in range(repeats):
        calls, start = 0, clock()[0]
        while True:
            op()
            calls += 1
            sync(device)
            seconds = clock()[0] - start
            if seconds >= min_seconds:
                break
        best = max(best, flops * calls / seconds / 1e9)
    return best


def matmul_op(n: int, dtype: torch.dtype, device: torch.device) -> Callable[[], Any]:
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    return lambda: torch.mm(a, b)


def conv_op(shape: tuple[int, int, int], dtype: torch.dtype, device: torch.device) -> Callable:
    """A 3x3 convolution, padding 1, channels_last (the layout cnngan's nets train in)."""
    batch, channels, side = shape
    x = torch.randn(batch, channels, side, side, device=device).to(dtype)
    w = torch.randn(channels, channels, 3, 3, device=device).to(dtype)
    x, w = (t.contiguous(memory_format=torch.channels_last) for t in (x, w))
    return lambda: F.conv2d(x, w, padding=1)


def measure_peaks(
    precisions: list[str], device: torch.device, quick: bool = False
) -> dict[str, dict[str, Any]]:
    """Per precision: matmul and convolution GFLOP/s, the sizes timed, and the better of the two
    as `peak_gflops`."""
    n, conv = (QUICK_SIZES if quick else SIZES)["cuda" if device.type == "cuda" else "cpu"]
    peaks = {}
    with torch.no_grad():
        for name in precisions:
            dtype = DTYPES[name]
            mm = best_gflops(matmul_op(n, dtype, device), device)
            cv = best_gflops(conv_op(conv, dtype, device), device)
            peaks[name] = {
                "matmul_gflops": mm,
                "conv_gflops": cv,
                "peak_gflops": max(mm, cv),
                "matmul": f"{n}x{n} @ {n}x{n}",
                "conv": f"3x3, {conv[1]}->{conv[1]} channels, batch {conv[0]}, "
                f"{conv[2]}x{conv[2]}, channels_last",
            }
    if device.type == "cuda" and "fp32" in peaks:  # "high" lets fp32 matmuls run on TF32 cores
        peaks["fp32"]["float32_matmul_precision"] = torch.get_float32_matmul_precision()
    return peaks
