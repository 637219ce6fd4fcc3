"""scripts/gan_test_scores.py on a conditional GAN trained for real (the small digits one): one
cnngan-eval per run and sample seed, not rerun when done, and a table with the per-class worst
recall next to the overall scores."""

from __future__ import annotations

import json
import sys

import pytest

from tests.conftest import REPO_ROOT
from tests.metrics.tiny_cond_gan import tiny_conditional_gan

if str(REPO_ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "scripts"))

import gan_test_scores  # noqa: E402

pytestmark = pytest.mark.slow  # trains the tiny conditional GAN once per session


def test_scores_every_run_once_and_tabulates_the_worst_class(tmp_path_factory) -> None:
    run = tiny_conditional_gan(tmp_path_factory)
    out = tmp_path_factory.mktemp("scores") / "table.md"
    argv = [
        "--runs",
        str(run),
        "--checkpoint",
        "last.ckpt",
        "--out",
        str(out),
        "--extra",
        "metrics.num_samples=300",
        "metrics.suite.kid_subsets=5",
        "metrics.suite.kid_subset_size=100",
        "metrics.device=cpu",
    ]
    gan_test_scores.main(argv)
    metrics = json.loads((run / "test" / "seed0" / "metrics.json").read_text())
    assert metrics["protocol/n_fake"] == 300 and metrics["protocol/per_class"] is True
    summary = json.loads(out.with_suffix(".json").read_text())
    (row,) = summary["runs"]
    assert row["fid"] == pytest.approx(metrics["fid"])
    assert row["recall_class_min"] == pytest.approx(metrics["recall_class_min"])
    assert row["cas_acc"] is None  # no --cas
    table = out.read_text()
    assert "| recall class min |" in table and f"{metrics['fid']:.2f}" in table
    assert "**mean of 1 runs**" in table

    stamp = (run / "test" / "seed0" / "metrics.json").stat().st_mtime_ns
    gan_test_scores.main(argv)  # done: not rerun
    assert (run / "test" / "seed0" / "metrics.json").stat().st_mtime_ns == stamp
