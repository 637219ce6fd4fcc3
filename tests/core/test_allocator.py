"""`extras.keep_freed_memory`: glibc's malloc keeps freed memory, so a step that allocates the
same tensors again does not fault its pages in again. Measured in fresh processes: the page
faults of a repeated allocation pattern with and without the setting."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="the setting is glibc's (elsewhere keep_freed_memory does nothing)",
)

# 30 tensors of 3 MB, written, then freed, five times: 90 MB freed at the heap's top at once is
# above glibc's largest automatic trim threshold (64 MB), so by default it goes back to the OS
# and the next repeat faults every page in again, as a training step's activations can.
PATTERN = """
import json, resource, sys, torch
from cnngan.core.allocator import keep_freed_memory
from cnngan.run.compose import compose_config
from cnngan.run.entry import apply_extras
kept = None
if sys.argv[1] == "keep":
    kept = keep_freed_memory()
elif sys.argv[1].startswith("extras.keep_freed_memory="):  # as every cnngan command starts
    apply_extras(compose_config("train", [sys.argv[1]]))
def repeat():
    tensors = [torch.empty(3 * 2**20 // 4).fill_(1.0) for _ in range(30)]
    del tensors
repeat()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    repeat()
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5
print(json.dumps({"kept": kept, "faults": faults}))
"""


def faults_per_repeat(mode: str) -> dict:
    """The pattern's page faults per repeat in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", PATTERN, mode], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


PAGES = 30 * 3 * 2**20 // 4096
# By default, glibc gives the freed block back at every repeat in most processes (23,009 faults
# per repeat here) and at one repeat in five in the others (4,756: the heap's layout differs from
# process to process, 2026-12-07). Both are far above the setting's few faults.
REFAULTED = 0.15 * PAGES
KEPT = 0.02 * PAGES


def test_freed_memory_is_reused_without_page_faults():
    default, kept = faults_per_repeat("default"), faults_per_repeat("keep")
    assert kept["kept"] is True
    # without the setting the pattern faults its pages in again
    assert default["faults"] > REFAULTED, default
    assert kept["faults"] < KEPT, kept


def test_cnngan_commands_keep_freed_memory_unless_told_not_to():
    """The start-up every command runs (`run.entry.apply_extras`) with the train config: on by
    default, off with `extras.keep_freed_memory=false`."""
    on = faults_per_repeat("extras.keep_freed_memory=true")
    off = faults_per_repeat("extras.keep_freed_memory=false")
    assert on["faults"] < KEPT, on
    assert off["faults"] > REFAULTED, off
    from cnngan.run.compose import compose_config

    assert compose_config("train", []).extras.keep_freed_memory is True
