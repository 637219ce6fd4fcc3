"""scripts/framework_gap_ladder.py: every rung of the ladder does the plain loop's work, so a
ratio that moves is the cost of how the work is done, not of other work."""

from __future__ import annotations

import sys

import pytest
import torch

from tests.conftest import REPO_ROOT

if str(REPO_ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "scripts"))

import framework_gap_ladder as ladder  # noqa: E402
from bench.contenders import compose  # noqa: E402


def trained_weights(kind: str, cfg, steps: int = 4) -> list[torch.Tensor]:
    run = ladder.variant(kind)(cfg, 10)  # the schedule's length
    torch.manual_seed(0)  # dropout and augmentation draw from the global generator
    for _ in range(steps):
        run.step()
    return [p.detach().clone() for p in run.nets["net"].parameters()]


@pytest.mark.parametrize("kind", ["closure", "module"])
def test_a_rung_trains_the_plain_loops_weights(kind: str, tmp_path) -> None:
    """From the same seed and batches, the closure-stepped and the ImageClassifier rungs end
    with the plain loop's weights (the loader rung draws cnngan's batch order instead)."""
    cfg = compose("classifier", (), tmp_path, data="digits")
    plain = trained_weights("plain", cfg)
    other = trained_weights(kind, cfg)
    assert len(plain) == len(other)
    for a, b in zip(plain, other, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    untrained = trained_weights("plain", cfg, steps=0)
    assert any(not torch.equal(a, b) for a, b in zip(plain, untrained, strict=True))
