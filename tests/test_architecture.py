"""The layout the README's "Architecture" section describes, enforced: import layers and no cycles
(import-linter contracts in pyproject.toml), and files small enough to read in one sitting."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from tests.conftest import REPO_ROOT

SRC = REPO_ROOT / "src" / "cnngan"
MAX_LINES = 300
# a file over MAX_LINES must say in its module docstring why it is one file
JUSTIFICATION_WORDS = ("one file", "single file", "kept together")


def _lint_imports() -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    return subprocess.run(
        [exe, "--no-cache"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )


def test_import_contracts_are_kept() -> None:
    result = _lint_imports()
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "BROKEN" not in result.stdout


def test_contracts_cover_the_documented_layers() -> None:
    """The README table and the contract name the same layers, top to bottom."""
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "`cnngan." in line]
    assert len(rows) == len(layers), f"README rows {rows} vs contract layers {layers}"
    for row, layer in zip(rows, layers, strict=True):
        in_contract = set(layer.replace("|", " ").replace(":", " ").split())
        in_readme = set(re.findall(r"`(cnngan\.\w+)`", row))
        assert in_readme == in_contract, f"README row {row!r} vs contract layer {layer!r}"
    assert any(c["type"] == "acyclic_siblings" for c in config["contracts"])


def test_metrics_contract_forbids_hydra() -> None:
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    forbidden = [c for c in config["contracts"] if c["type"] == "forbidden"]
    metrics = next(c for c in forbidden if c["source_modules"] == ["cnngan.metrics"])
    assert "hydra" in metrics["forbidden_modules"] and "cnngan.eval" in metrics["forbidden_modules"]


def _python_files() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_file_is_short_or_says_why(path: Path) -> None:
    lines = path.read_text().count("\n")
    if lines <= MAX_LINES:
        return
    docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert any(word in docstring.lower() for word in JUSTIFICATION_WORDS), (
        f"{path.relative_to(REPO_ROOT)} has {lines} lines (> {MAX_LINES}) and its docstring does "
        "not say why it must be one file: split it, or say why"
    )


def test_gan_module_fits_on_a_few_screens() -> None:
    assert (SRC / "models" / "gan.py").read_text().count("\n") <= MAX_LINES
