"""scripts/gpu_check.sh where no CUDA device is visible: one clear message, exit status 2, and
nothing run or written (runs everywhere: the GPUs are hidden)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT


def test_gpu_check_stops_clearly_without_cuda(tmp_path: Path) -> None:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHON": sys.executable, "OUT": str(tmp_path)}
    proc = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "gpu_check.sh")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "gpu_check: no CUDA device" in proc.stderr and "Traceback" not in proc.stderr
    assert "docs/gpu.md" in proc.stderr
    assert not list(tmp_path.iterdir()), "it wrote results without running anything"
