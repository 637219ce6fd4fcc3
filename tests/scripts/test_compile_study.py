"""scripts/compile_study.py: what Dynamo makes of the compiled models (a graph break or a
recompilation per step would show here first), on the small digits data."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import REPO_ROOT

if str(REPO_ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "scripts"))

import compile_study  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize(("task", "graphs"), [("classifier", 1), ("gan", 5)])
def test_compiled_training_steps_are_whole_graphs(task: str, graphs: int) -> None:
    """The classifier's net compiles to one graph (AOT autograd: forward and backward), the
    GAN's nets to five (G and D in the modes an iteration calls them), with no graph break and
    no recompilation after the first steps."""
    row = compile_study.measure(task, "32-true", True, warmup=3, steps=3, data="digits")
    assert (row["graphs"], row["graph_breaks"], row["recompiles"]) == (graphs, 0, 0)
    assert row["img_per_s"] > 0 and row["first_steps_s"] > 0
    eager = compile_study.measure(task, "32-true", False, warmup=3, steps=3, data="digits")
    assert (eager["graphs"], eager["graph_breaks"]) == (0, 0)
