"""results.json: every number of one benchmark run, with what it depends on (date, commit,
machine, CPU flags, threads, library versions)."""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.contenders import REPO
from cnngan.core.json_safe import read_json, write_json
from cnngan.core.speed import machine_info
from cnngan.run.precision import (
    NATIVE_BF16_CPU_FLAGS,
    cpu_flags,
    cuda_native_bf16,
    decide_precision,
)

FLAGS_OF_INTEREST = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_vnni")


def git_commit(repo: Path = REPO) -> dict[str, Any]:
    """The checked-out commit and whether the working tree differs from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=30)
        return done.stdout.strip() if done.returncode == 0 else ""

    return {"commit": git("rev-parse", "HEAD") or None, "dirty": bool(git("status", "--porcelain"))}


def machine() -> dict[str, Any]:
    """utils.speed's machine description plus the CPU flags that decide bf16 speed."""
    info = machine_info()
    flags = cpu_flags()
    info["cpu_flags"] = {flag: flag in flags for flag in FLAGS_OF_INTEREST}
    device = "cuda" if info.get("gpu") else "cpu"
    choice = decide_precision(device, flags, cuda_bf16=device == "cuda" and cuda_native_bf16())
    info["precision_auto"] = {"precision": choice.precision, "reason": choice.reason}
    info["native_bf16_flags"] = list(NATIVE_BF16_CPU_FLAGS)
    return info


def new_results(settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "git": git_commit(),
        "machine": machine(),
        "settings": settings,
    }


def save(results: dict[str, Any], path: Path) -> Path:
    return write_json(path, results)


def load(path: str | Path) -> dict[str, Any]:
    return read_json(path)
