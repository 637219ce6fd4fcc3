"""The documentation site builds with `mkdocs build --strict` (a broken link, a missing page or a
page left out of the navigation fails), and the configuration reference matches conf/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT


def test_configuration_reference_matches_conf() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/config_reference.py", "--check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_every_config_option_is_in_the_reference() -> None:
    page = (REPO_ROOT / "docs" / "configuration.md").read_text()
    for option in (REPO_ROOT / "conf").rglob("*.yaml"):
        group = option.parent.relative_to(REPO_ROOT / "conf").as_posix()
        title = f"`{option.stem}`" if group == "." else f"`{group}={option.stem}`"
        assert f"### {title}" in page, f"{option} is missing from docs/configuration.md"


def test_site_builds_strict(tmp_path: Path) -> None:
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent)) or "mkdocs"
    result = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (tmp_path / "site" / "getting-started" / "index.html").is_file()
