"""The layout the README's "Architecture" section describes, enforced: import layers and no cycles
(import-linter contracts in pyproject.toml), and files small enough to read in one sitting."""

from __future__ import annotations

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


def _lint_imports() -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    return subprocess.run(
        [exe, "--no-cache"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )


def test_import_contracts_are_kept() -> None:
    result = _lint_imports()
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "BROKEN" not in result.stdout


def _contracts() -> list[dict]:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"
    ]


def _layer_names(layer: str) -> set[str]:
    return set(layer.replace("|", " ").split())


def test_contracts_cover_the_documented_layers() -> None:
    """The README table has one row per layer of the contract, top to bottom, naming the same
    packages; layers are strict (`|`, never the permissive `:`)."""
    layers = next(c for c in _contracts() if c["type"] == "layers")["layers"]
    assert not any(":" in layer for layer in layers), "a ':' layer lets siblings import freely"
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert len(rows) == len(layers), f"README rows {rows} vs contract layers {layers}"
    for row, layer in zip(rows, layers, strict=True):
        first_cell = row.split("|")[1]
        in_readme = set(re.findall(r"`([\w.]+)`", first_cell))
        assert in_readme == _layer_names(layer), f"README row {row!r} vs contract layer {layer!r}"
    assert any(c["type"] == "acyclic_siblings" for c in _contracts())


def test_every_package_is_in_the_exhaustive_contract() -> None:
    """A new package under src/cnngan cannot escape the layers: the exhaustive contract names
    every module and package of cnngan (import-linter fails on a missing one, this says which)."""
    exhaustive = next(c for c in _contracts() if c.get("exhaustive"))
    named = set().union(*(_layer_names(layer) for layer in exhaustive["layers"]))
    children = {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"}
    children |= {p.parent.name for p in SRC.glob("*/__init__.py")}
    assert children == named


def test_ground_floor_is_small() -> None:
    assert len([p for p in (SRC / "core").glob("*.py") if p.stem != "__init__"]) <= 12


def test_no_folder_holds_three_modules_with_one_prefix() -> None:
    """One concept lives in one package, not in sibling files sharing a name prefix."""
    for folder in [SRC, *[p for p in SRC.rglob("*") if p.is_dir()]]:
        stems = [p.stem for p in folder.glob("*.py") if "_" in p.stem.strip("_")]
        prefixes = [s.strip("_").split("_")[0] for s in stems]
        crowded = {p for p in prefixes if prefixes.count(p) >= 3}
        assert not crowded, f"{folder}: modules sharing the prefix(es) {crowded} want a package"


def test_hydra_is_confined_to_composition() -> None:
    """Features, parts, concerns and core may not import Hydra (the forbidden contract)."""
    hydra = next(c for c in _contracts() if c.get("forbidden_modules") == ["hydra"])
    for package in ("models", "callbacks", "metrics", "data", "nets", "core", "apps"):
        assert f"cnngan.{package}" in hydra["source_modules"]


def _python_files() -> list[Path]:
    return sorted([*SRC.rglob("*.py"), *(REPO_ROOT / "src" / "hydra_plugins").rglob("*.py")])


@pytest.mark.parametrize(
    "path", _python_files(), ids=lambda p: str(p.relative_to(REPO_ROOT / "src"))
)
def test_file_is_short(path: Path) -> None:
    lines = path.read_text().count("\n")
    assert lines <= MAX_LINES, f"{path.relative_to(REPO_ROOT)} has {lines} lines (> {MAX_LINES})"
