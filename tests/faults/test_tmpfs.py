"""The tmpfs fixture follows the suite's skip-or-fail rule: a mount that fails skips the test
where the machine cannot mount, and fails it under CI=true (CI promises root)."""

from __future__ import annotations

import os

import pytest


@pytest.mark.parametrize(
    ("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)]
)
def test_a_failed_mount_skips_here_and_fails_on_ci(
    tmpfs, monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="cannot mount a tmpfs here"):
        tmpfs(size="not-a-size")  # an option no tmpfs takes: mount fails, even as root


def test_a_mounted_tmpfs_has_the_size_asked_for(tmpfs) -> None:
    folder = tmpfs(size="64k")
    stats = os.statvfs(folder)
    assert stats.f_blocks * stats.f_frsize == 64 * 1024
