"""Real faults for the tests: small or read-only tmpfs mounts (root only; skipped elsewhere, a
failure under CI=true)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """tmpfs(size="1m", read_only=False) -> a freshly mounted folder, unmounted after the test."""
    mounted: list[Path] = []

    def _mount(size: str = "1m", read_only: bool = False) -> Path:
        if shutil.which("mount") is None:
            skip_or_fail("cannot mount a tmpfs here: no `mount` command")
        target = tmp_path / f"mnt{len(mounted)}"
        target.mkdir(exist_ok=True)  # left empty by a mount that failed
        options = f"size={size}" + (",ro" if read_only else "")
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            skip_or_fail(f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}")
        mounted.append(target)
        return target

    yield _mount
    for target in reversed(mounted):
        subprocess.run(["umount", "-l", str(target)], capture_output=True)
