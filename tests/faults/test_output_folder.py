"""A log folder that cannot take a run (read-only, full) is refused before anything starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cnngan.run.output_check import output_problem
from tests.conftest import REPO_ROOT

TRAIN = str(Path(sys.executable).parent / "cnngan-train")


def _train(log_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRAIN, "data=digits", "trainer.max_epochs=1", f"paths.log_dir={log_dir}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_writable_folder_passes(tmp_path: Path) -> None:
    assert output_problem(tmp_path / "not" / "yet" / "there") is None


def test_a_file_in_the_way_is_named(tmp_path: Path) -> None:
    (tmp_path / "logs").write_text("")
    assert "is a file" in output_problem(tmp_path / "logs" / "train")


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["read_only", "full"])
def test_train_refuses_the_log_folder_before_starting(fault: str, tmpfs) -> None:
    folder = tmpfs(size="1m", read_only=fault == "read_only")
    result = _train(folder / "logs")
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    expected = "Read-only file system" if fault == "read_only" else "MB free"
    assert expected in result.stderr and "paths.log_dir=" in result.stderr
    assert not (folder / "logs").exists() or not any((folder / "logs").rglob("*"))
