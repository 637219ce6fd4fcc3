"""A checkpoint crafted to run code when unpickled is refused by every command that takes
`ckpt_path`, with one message and exit status 2, and its payload never runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO_ROOT

BIN = Path(sys.executable).parent


class CreatesAFile:
    """Unpickling this calls open(marker, "w"): the file appears if the payload ever runs."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple:
        return (open, (self.marker, "w"))


def hostile_checkpoint(path: Path, marker: Path) -> Path:
    torch.save({"state_dict": {}, "cnngan": CreatesAFile(marker)}, path)
    return path


@pytest.fixture
def hostile(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "payload_ran"
    return hostile_checkpoint(tmp_path / "hostile.ckpt", marker), marker


def test_the_payload_is_real(hostile: tuple[Path, Path]) -> None:
    """Loading the file the unsafe way does run the payload: the test below guards something."""
    path, marker = hostile
    torch.load(path, weights_only=False)
    assert marker.exists()


COMMANDS = {
    "cnngan-train": ["data=digits"],
    "cnngan-eval": [],
    "cnngan-predict": ["input=."],
    "cnngan-sample": [],
    "cnngan-inpaint": [],
}


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_refuses_a_hostile_checkpoint(
    command: str, hostile: tuple[Path, Path], tmp_path: Path
) -> None:
    path, marker = hostile
    result = subprocess.run(
        [str(BIN / command), f"ckpt_path={path}", f"paths.log_dir={tmp_path / 'logs'}"]
        + COMMANDS[command],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "cannot read checkpoint" in result.stderr and str(path) in result.stderr
    assert "can run code" in result.stderr  # the message says why it is refused
    assert "file an issue" not in result.stderr  # torch's text for its own bugs is not shown
    assert not marker.exists(), "the pickled payload ran"


def _hostile_samples(tmp_path: Path, suffix: str, marker: Path) -> Path:
    import numpy as np

    path = tmp_path / f"samples{suffix}"
    payload = np.array([CreatesAFile(marker)], dtype=object)
    if suffix == ".npz":
        np.savez(path, images=payload)
    elif suffix == ".npy":
        np.save(path, payload, allow_pickle=True)
    else:
        torch.save({"images": CreatesAFile(marker)}, path)
    return path


@pytest.mark.parametrize("suffix", [".npz", ".npy", ".pt"])
def test_samples_files_with_pickled_objects_are_refused(suffix: str, tmp_path: Path) -> None:
    from cnngan.core.errors import UserError
    from cnngan.metrics.samples import load_samples

    marker = tmp_path / "payload_ran"
    path = _hostile_samples(tmp_path, suffix, marker)
    with pytest.raises(UserError, match="pickled Python objects"):
        load_samples(path)
    assert not marker.exists()


def test_samples_outside_the_expected_range_are_named(tmp_path: Path) -> None:
    from cnngan.core.errors import UserError
    from cnngan.metrics.samples import load_samples

    path = tmp_path / "samples.pt"
    torch.save(torch.rand(4, 1, 8, 8) * 255, path)  # floats in [0, 255]: saved without scaling
    with pytest.raises(UserError, match=r"outside the unit range .*metrics.samples_range"):
        load_samples(path)


@pytest.mark.slow
def test_eval_refuses_hostile_samples_with_one_line(tmp_path: Path) -> None:
    marker = tmp_path / "payload_ran"
    path = _hostile_samples(tmp_path, ".npz", marker)
    result = subprocess.run(
        [str(BIN / "cnngan-eval"), f"samples_path={path}", f"paths.log_dir={tmp_path / 'logs'}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "pickled Python objects" in result.stderr
    assert not marker.exists()
