"""A user's mistake ends a command with one message naming the problem and the fix, exit status 2,
no traceback; nothing already saved is touched. Run through the real command line."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FASHION_MNIST_DEBIAN, REPO_ROOT

TRAIN = str(Path(sys.executable).parent / "cnngan-train")
QUICK = ["trainer.max_epochs=1", "logger=none", "extras.print_config=false"]


def _train(args: list[str], log_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRAIN, *args, *QUICK, f"paths.log_dir={log_dir}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _assert_user_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    message = [line for line in result.stderr.splitlines() if "cnngan-train: error:" in line]
    assert len(message) == 1, result.stderr[-3000:]
    for needle in needles:
        assert needle in message[0], message[0]


def _truncated_idx_copy(folder: Path) -> Path:
    """The four Fashion-MNIST files, the training images cut off mid-way (a broken download)."""
    raw = folder / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for source in FASHION_MNIST_DEBIAN.glob("*-ubyte.gz"):
        shutil.copy(source, raw / source.name)
    images = raw / "train-images-idx3-ubyte.gz"
    with gzip.open(images) as f:
        head = f.read(100_000)
    with gzip.open(images, "wb") as f:
        f.write(head)
    return folder


@pytest.mark.slow
def test_a_config_value_a_constructor_rejects(tmp_path: Path) -> None:
    result = _train(["data=digits", "model.net.pool=median"], tmp_path)
    _assert_user_error(result, "pool", "median", "ConvNet")


@pytest.mark.slow
def test_data_and_model_shapes_that_disagree(tmp_path: Path) -> None:
    result = _train(["data=digits", "data.image_shape=[1,28,28]"], tmp_path)
    _assert_user_error(result, "image_shape", "fix data.image_shape")


@pytest.mark.slow
def test_missing_data_lists_the_ways_to_get_it(tmp_path: Path) -> None:
    empty = tmp_path / "no_data"
    empty.mkdir()
    result = _train(["data=mnist", f"paths.data_dir={empty}", "data.download=false"], tmp_path)
    _assert_user_error(result, "not found")
    assert "Get the data" in result.stderr


@pytest.mark.slow
@pytest.mark.usefixtures("require_fashion_mnist")
def test_a_truncated_data_file(tmp_path: Path) -> None:
    data_dir = _truncated_idx_copy(tmp_path / "data")
    result = _train(["data=mnist", f"paths.data_dir={data_dir}", "data.download=false"], tmp_path)
    _assert_user_error(result, "train-images-idx3-ubyte")
    assert (data_dir / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").is_file()  # left alone
