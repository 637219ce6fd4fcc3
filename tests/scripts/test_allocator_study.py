"""scripts/allocator_study.py: cnngan's fit with and without kept freed memory, each in a fresh
process; the default's steps fault pages in, the kept setting's almost none."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the setting is glibc's"),
]


def test_one_pair_of_fresh_processes(tmp_path):
    command = [sys.executable, str(REPO / "scripts" / "allocator_study.py"), "--tasks",
               "classifier", "--pairs", "1", "--warmup", "60", "--steps", "60",
               "--out", str(tmp_path)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| classifier |" in done.stdout  # the table row
    (path,) = tmp_path.glob("allocator_*.json")
    runs = json.loads(path.read_text())["tasks"]["classifier"]["runs"]
    default, kept = runs["default"][0], runs["keep"][0]
    assert kept["kept"] is True and default["kept"] is False
    assert default["ms_per_step"] > 0 and kept["ms_per_step"] > 0
    # after its warm-up the kept process takes almost no page faults per step, the default
    # tens of thousands (make train's classifier, 2026-12-07: 20,275-29,716 against 0-29; a
    # one-off heap growth after 20 warm-up steps once made it 236)
    assert kept["faults_per_step"] < 0.02 * default["faults_per_step"], (default, kept)
