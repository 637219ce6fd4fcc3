""".pre-commit-config.yaml: its hooks run for real (pre-commit in a scratch git repository holding
the project's config) and fix or refuse what `make lint` would refuse; notebooks lose outputs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

BIN = Path(sys.executable).parent
UNTIDY = "import os\nimport sys\nx = {  'a':1}\nprint(sys.argv,x)\n"


def notebook(outputs: list[dict]) -> dict:
    cell = {
        "cell_type": "code",
        "execution_count": 3 if outputs else None,
        "id": "abc123",
        "metadata": {},
        "outputs": outputs,
        "source": ["print(1)"],
    }
    return {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def pre_commit(repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # the project's tools
        "PRE_COMMIT_HOME": str(home),
        "SKIP": "import-contracts",  # needs the cnngan package: tests/test_architecture.py
    }
    return subprocess.run(
        [str(BIN / "pre-commit"), *args], cwd=repo, env=env, capture_output=True, text=True
    )


@pytest.fixture
def scratch_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in (".pre-commit-config.yaml", "pyproject.toml"):
        shutil.copy(REPO_ROOT / name, repo / name)
    (repo / "src").mkdir()
    (repo / "src" / "untidy.py").write_text(UNTIDY)
    output = {"output_type": "stream", "name": "stdout", "text": ["1\n"]}
    (repo / "run.ipynb").write_text(json.dumps(notebook([output]), indent=1))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    return repo


def test_config_is_valid(tmp_path: Path) -> None:
    result = pre_commit(REPO_ROOT, tmp_path, "validate-config", ".pre-commit-config.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_hooks_fix_code_and_strip_notebooks(scratch_repo: Path) -> None:
    first = pre_commit(scratch_repo, scratch_repo.parent, "run", "--all-files")
    assert first.returncode == 1, first.stdout  # files were changed: the commit is stopped
    fixed = (scratch_repo / "src" / "untidy.py").read_text()
    assert "import os" not in fixed and 'x = {"a": 1}' in fixed  # ruff --fix, ruff format
    cell = json.loads((scratch_repo / "run.ipynb").read_text())["cells"][0]
    assert cell["outputs"] == [] and cell["execution_count"] is None and cell["id"] == "abc123"
    again = pre_commit(scratch_repo, scratch_repo.parent, "run", "--all-files")
    assert again.returncode == 0, again.stdout  # clean now: the commit would go through


def test_hooks_refuse_what_ruff_cannot_fix(scratch_repo: Path) -> None:
    (scratch_repo / "src" / "untidy.py").write_text("def f():\n    return undefined_name\n")
    result = pre_commit(scratch_repo, scratch_repo.parent, "run", "ruff", "--all-files")
    assert result.returncode == 1 and "F821" in result.stdout


def test_committed_notebooks_have_no_outputs() -> None:
    """Why the nbstripout hook fits: the notebooks are committed stripped (tests execute them)."""
    result = subprocess.run(
        [
            str(BIN / "nbstripout"),
            "--keep-id",
            "--verify",
            *map(str, REPO_ROOT.glob("notebooks/*.ipynb")),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
