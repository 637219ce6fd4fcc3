"""Every notebook runs top to bottom (fresh kernel, tiny budgets) and draws its figures."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from run_notebooks import execute_notebook  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def nb_root(tmp_path_factory, monkeypatch_module) -> Path:
    """An empty project root: the notebooks train their tiny models and write logs there."""
    root = tmp_path_factory.mktemp("nbroot")
    monkeypatch_module.setenv("CNNGAN_ROOT", str(root))
    for var in (
        "CNNGAN_GAN_RUN",
        "CNNGAN_GAN_CKPT",
        "CNNGAN_CLASSIFIER_CKPT",
        "CNNGAN_AUGMENT_RESULTS",
    ):
        monkeypatch_module.delenv(var, raising=False)
    monkeypatch_module.setenv("OMP_NUM_THREADS", "1")
    return root


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def run(name: str, root: Path) -> nbformat.NotebookNode:
    out = execute_notebook(
        ROOT / "notebooks" / f"{name}.ipynb", root / "executed", cwd=root, timeout=300, fast=True
    )
    return nbformat.read(out, as_version=4)


def figures(book: nbformat.NotebookNode) -> int:
    return sum(
        "image/png" in o.get("data", {})
        for c in book.cells
        if c.cell_type == "code"
        for o in c.outputs
    )


def text(book: nbformat.NotebookNode) -> str:
    return "".join(
        o.get("text", "") for c in book.cells if c.cell_type == "code" for o in c.outputs
    )


@pytest.fixture(scope="module")
def gan_notebook(nb_root: Path) -> nbformat.NotebookNode:
    return run("02_gan_training", nb_root)


def test_notebooks_are_stored_without_outputs() -> None:
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        book = nbformat.read(path, as_version=4)
        assert all(
            not c.get("outputs") and not c.get("execution_count")
            for c in book.cells
            if c.cell_type == "code"
        ), path


def test_cnn_anatomy(nb_root: Path) -> None:
    book = run("01_cnn_anatomy", nb_root)
    assert figures(book) >= 3  # filters, feature maps, confusion matrix
    assert "most confused pairs" in text(book)


def test_gan_training(gan_notebook: nbformat.NotebookNode) -> None:
    assert figures(gan_notebook) >= 3  # sample grids, D curves, interpolation
    assert "GAN run:" in text(gan_notebook)


def test_completion_and_augmentation(gan_notebook, nb_root: Path) -> None:
    assert os.environ["CNNGAN_ROOT"] == str(nb_root)
    book = run("03_completion_and_augmentation", nb_root)
    assert figures(book) >= 2  # one grid per mask
    out = text(book)
    assert "PSNR" in out and "make augment-study" in out
