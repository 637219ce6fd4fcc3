"""A user's mistake with cnngan-predict, cnngan-sample or cnngan-inpaint, tried through the real
command line: exit status 2, one short message that names the problem and the fix, no traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torchvision.io import write_png

from tests.apps.conftest import tiny_classifier_checkpoint, tiny_gan_checkpoint

pytestmark = pytest.mark.slow  # every case starts a Python process that imports torch


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("ckpts")
    return {
        "classifier": tiny_classifier_checkpoint(folder / "clf.ckpt"),
        "gan": tiny_gan_checkpoint(folder / "uncond.ckpt", conditional=False),
    }


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("images")
    (folder / "empty").mkdir()
    (folder / "big").mkdir()
    write_png(torch.zeros(1, 28, 28, dtype=torch.uint8), str(folder / "big" / "x.png"))
    return {"empty": folder / "empty", "big": folder / "big"}


def run_command(command: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name(command)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(
        [str(exe), *args, "extras.print_config=false", f"hydra.run.dir={cwd / 'run'}"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


CASES = {
    "predict_wrong_size": (
        "cnngan-predict",
        ["ckpt_path={classifier}", "input={big}"],
        r"x.png is 28x28 but 8x8 images are needed; pass resize=true",
    ),
    "predict_empty_folder": (
        "cnngan-predict",
        ["ckpt_path={classifier}", "input={empty}"],
        r"no image files .* in folder .*empty; put images there",
    ),
    "predict_gan_checkpoint": (
        "cnngan-predict",
        ["ckpt_path={gan}", "input={big}"],
        r"is a GAN checkpoint; cnngan-predict needs a classifier checkpoint",
    ),
    "sample_classifier_checkpoint": (
        "cnngan-sample",
        ["ckpt_path={classifier}"],
        r"is a classifier checkpoint; cnngan-sample needs a GAN checkpoint: pass",
    ),
    "sample_n_zero": ("cnngan-sample", ["ckpt_path={gan}", "n=0"], r"n=0 must be at least 1"),
    "sample_labels_unconditional": (
        "cnngan-sample",
        ["ckpt_path={gan}", "labels=3"],
        r"labels=3 needs a conditional GAN.*unconditional one; drop labels",
    ),
    "inpaint_classifier_checkpoint": (
        "cnngan-inpaint",
        ["ckpt_path={classifier}"],
        r"is a classifier checkpoint; cnngan-inpaint needs a GAN checkpoint: pass",
    ),
    "inpaint_empty_folder": (
        "cnngan-inpaint",
        ["ckpt_path={gan}", "input={empty}"],
        r"no image files .* in folder",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_user_error_is_one_message_and_exit_status_2(
    case: str, checkpoints: dict[str, Path], images: dict[str, Path], tmp_path: Path
) -> None:
    command, args, message = CASES[case]
    args = [a.format(**checkpoints, **images) for a in args]
    result = run_command(command, args, tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith(f"{command}: error:")]
    assert len(errors) == 1 and re.search(message, errors[0]), result.stderr[-2000:]
    assert not (tmp_path / "run" / "predictions.csv").exists()
