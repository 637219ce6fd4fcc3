"""`make evaluator` (scripts/train_evaluator.py) exports into its run folder under logs/ and leaves
the shipped evaluators alone unless --install says otherwise."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from cnngan.metrics.evaluator import WEIGHTS_DIR, load_evaluator
from tests.conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "train_evaluator.py"


def shipped_files() -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in WEIGHTS_DIR.iterdir()}


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_default_export_goes_to_the_run_folder_and_leaves_shipped_weights(tmp_path: Path) -> None:
    before = shipped_files()
    run_dir = tmp_path / "evaluator_run"
    proc = run_script(
        "--data",
        "digits",
        "--run-dir",
        str(run_dir),
        "--min-acc",
        "0",
        "--",
        "trainer.max_epochs=1",
        "callbacks.rich_progress_bar=null",
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    exported = run_dir / "export" / "digits.pt"
    assert load_evaluator(exported).num_features == 64  # a complete evaluator: weights + json
    assert shipped_files() == before
    assert "the shipped evaluator is unchanged" in proc.stdout


def test_the_shipped_folder_needs_install(tmp_path: Path) -> None:
    before = shipped_files()
    proc = run_script("--data", "digits", "--run-dir", str(tmp_path), "--out", str(WEIGHTS_DIR))
    assert proc.returncode == 2 and "pass --install" in proc.stderr
    assert not any(tmp_path.iterdir()) and shipped_files() == before  # refused before training
