"""scripts/recipe_trials.py: one real run per candidate and seed, runs already done are not rerun,
and the table shows a classifier's accuracy or a GAN's FID (best = the lowest val/fid of the run's
gan_metrics_history.json, the score its best-fid.ckpt was kept for)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from cnngan.run.metrics_file import write_metrics
from tests.conftest import REPO_ROOT

if str(REPO_ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "scripts"))

import recipe_trials  # noqa: E402


def write_candidates(path: Path, candidates: dict) -> Path:
    path.write_text(yaml.safe_dump(candidates))
    return path


def test_a_candidate_runs_once_per_seed_after_the_base_and_lands_in_the_table(
    tmp_path: Path,
) -> None:
    candidates = write_candidates(
        tmp_path / "tiny.yaml",
        {"base": ["data=digits"], "digits_1ep": {"overrides": ["trainer.max_epochs=1"]}},
    )
    argv = ["--candidates", str(candidates), "--seeds", "3", "--out", str(tmp_path / "out")]
    recipe_trials.main(argv)
    run_dir = tmp_path / "out" / "tiny" / "digits_1ep" / "seed3"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert 0.0 < metrics["test/acc"] <= 1.0
    resolved = yaml.safe_load((run_dir / "config_resolved.yaml").read_text())
    assert resolved["seed"] == 3 and resolved["data"]["name"] == "digits"  # the base came first
    table = (tmp_path / "out" / "tiny" / "trials.md").read_text()
    assert "| digits_1ep | `trainer.max_epochs=1` | 1 |" in table
    assert "before every candidate's overrides: `data=digits`" in table
    assert f"{metrics['test/acc'] * 100:.2f}" in table and "val FID" not in table

    stamp = (run_dir / "metrics.json").stat().st_mtime_ns
    recipe_trials.main(argv)  # done: not rerun
    assert (run_dir / "metrics.json").stat().st_mtime_ns == stamp


def test_gan_candidates_get_best_and_final_val_fid_columns(tmp_path: Path) -> None:
    candidates = write_candidates(
        tmp_path / "gan.yaml", {"dcgan": {"overrides": ["experiment=gan_dcgan"], "note": "x"}}
    )
    for seed, fids in ((1, [80.0, 41.5, 43.25]), (2, [70.0, 45.0, 44.0])):
        run_dir = tmp_path / "out" / "gan" / "dcgan" / f"seed{seed}"
        write_metrics({"val/fid": fids[-1], "time/wall_s": 400.0 + seed}, run_dir)
        scores = [{"iteration": 1000 * (i + 1), "fid": f} for i, f in enumerate(fids)]
        (run_dir / "gan_metrics_history.json").write_text(
            json.dumps({"prefix": "val/", "scores": scores})
        )
    recipe_trials.main(
        ["--candidates", str(candidates), "--seeds", "1", "2", "--out", str(tmp_path / "out")]
    )
    table = (tmp_path / "out" / "gan" / "trials.md").read_text()
    assert "| val FID best | val FID final | wall time (s) |" in table
    assert "| 41.5 / 44.0 (mean 42.8) | 43.2 / 44.0 (mean 43.6) | 401 / 402 (mean 402) |" in table
    assert "val acc" not in table
