"""The augmentation study end to end on Fashion-MNIST at a toy budget: every stage a real Hydra
multirun in its own process, one metrics.json per run, the table, and a rerun that runs nothing;
a missing GAN checkpoint on the real command line is one line and exit status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

if str(REPO_ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "scripts"))

from augment_study import cli  # noqa: E402
from augment_study.stages import all_stages  # noqa: E402

pytestmark = pytest.mark.slow  # each stage starts a Python process that imports torch

TOY = [
    "--k", "2", "--seeds", "1", "--levers", "ratio_1",
    "--gan-steps", "4", "--gan-eval-every", "2", "--clf-epochs", "1", "--min-epoch-size", "128",
    "--score-samples", "200", "--cas-train", "200", "--cas-epochs", "1",
    "--gan-extra", "callbacks.gan_fid.num_samples=200", "callbacks.sample_grid=null",
]  # fmt: skip


@pytest.fixture
def one_thread(monkeypatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)


def test_toy_study_runs_every_stage_as_a_multirun_and_resumes(
    tmp_path: Path, one_thread, require_fashion_mnist
) -> None:
    out = tmp_path / "study"
    assert cli.main([*TOY, "--out", str(out)]) == 0
    for run in [
        "gans/k2",
        "gan_scores/gans/k2",
        "classifiers/k2/real/seed1",
        "classifiers/k2/ratio_1/seed1",
    ]:
        assert (out / run / "metrics.json").is_file(), run
    assert (out / "gans" / "k2" / "checkpoints" / "best-fid.ckpt").is_file()
    cell = json.loads((out / "classifiers/k2/ratio_1/seed1/augment_data.json").read_text())
    assert (cell["n_real"], cell["synthetic"]["drawn"]) == (20, 10000)
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [(r["k"], r["lever"], r["n"], r["gan"]) for r in rows] == [
        ("2", "ratio_1", 1, "gans/k2")
    ]
    assert (
        rows[0]["test_fid"] > 0 and 0 <= rows[0]["cas_acc"] <= 1 and rows[0]["iteration"] in (2, 4)
    )
    assert "| 2 | ratio_1 |" in (out / "results.md").read_text()
    commands = (out / "commands.txt").read_text()
    assert commands.count(" -m ") == 3  # gans, gan_scores, the classifier grid
    plan = cli.plan_from(cli.parser().parse_args(TOY))
    assert all_stages(plan, out) == []  # a rerun has nothing left to run
    assert cli.main([*TOY, "--out", str(out)]) == 0
    assert (out / "commands.txt").read_text() == commands


def test_a_missing_gan_checkpoint_is_one_line_and_exit_2(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("cnngan-train")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("HYDRA_FULL_ERROR", None)
    result = subprocess.run(
        [
            str(exe),
            "experiment=augment_classifier",
            "data=digits",
            "data.val_size=200",
            "augment_lever=ratio_1",
            f"augment_study.dir={tmp_path / 'no_study'}",
            f"hydra.run.dir={tmp_path / 'run'}",
            "extras.print_config=false",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr + result.stdout
    errors = [
        line for line in result.stderr.splitlines() if line.startswith("cnngan-train: error:")
    ]
    assert len(errors) == 1, result.stderr[-2000:]
    assert "gans/k10/checkpoints/best-fid.ckpt does not exist" in errors[0]
    fix = "data.synthetic.ckpt_path needs a GAN checkpoint: train that conditional GAN first"
    assert fix in errors[0]
