"""Distance to the limit: each model's training step as a share of the machine's measured peak.

Achieved GFLOP/s = the step's counted FLOPs per image (bench/flops.py) x the images per second
measured by the rounds (median over rounds, wall clock); the peak is the better of a large
matmul and a large convolution timed in the same process at the same precision (bench/peak.py).
The step's FLOPs are counted once, in fp32: bf16-mixed runs the same kernels on the same shapes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.contenders import TASKS, compose
from bench.flops import count_step
from bench.peak import measure_peaks
from cnngan.core.device import resolve_device

PRECISION = {"cnngan": "fp32", "cnngan+bf16": "bf16", "plain": "fp32"}  # contenders reported


def utilisation_rows(
    contenders: dict[str, Any], flops: dict[str, Any], peaks: dict[str, Any]
) -> list[dict[str, Any]]:
    """One row per measured contender of PRECISION: its achieved GFLOP/s against the peaks."""
    rows = []
    for name, precision in PRECISION.items():
        speed = contenders.get(name, {}).get("imgs_per_s", {}).get("median")
        peak = peaks.get(precision)
        if not speed or not peak:
            continue
        achieved = flops["flops_per_image"] * speed / 1e9
        rows.append(
            {
                "contender": name,
                "precision": precision,
                "imgs_per_s": speed,
                "gflops": achieved,
                "utilisation_matmul": achieved / peak["matmul_gflops"],
                "utilisation_conv": achieved / peak["conv_gflops"],
                "utilisation": achieved / peak["peak_gflops"],
            }
        )
    return rows


def measure_utilisation(
    tasks: dict[str, Any], out_dir: Path, data: str | None, quick: bool = False
) -> dict[str, Any]:
    """FLOPs per image of each task's step, the peaks of the precisions measured, and one row per
    model and precision (`tasks`: results["tasks"], with the rounds' contender speeds)."""
    flops = {
        task: count_step(compose(task, TASKS[task].contenders["cnngan"].overrides, out_dir, data))
        for task in tasks
    }
    measured = {n for part in tasks.values() for n in part["contenders"] if n in PRECISION}
    precisions = sorted({PRECISION[n] for n in measured}, key=["fp32", "bf16"].index)
    peaks = measure_peaks(precisions, resolve_device("auto"), quick)
    return {
        "peaks": peaks,
        "tasks": {
            task: {
                "flops": flops[task],
                "rows": utilisation_rows(part["contenders"], flops[task], peaks),
            }
            for task, part in tasks.items()
        },
    }
