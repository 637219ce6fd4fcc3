"""The run card (<run dir>/README.md) of real cnngan-train and cnngan-eval processes on the 8x8
digits, and `experiment=gan_dcgan` alone being the measured default GAN: FID during training and
the best-FID checkpoint with no other override than the step budget."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from cnngan.core.json_safe import write_json
from cnngan.run.metrics_file import read_metrics
from cnngan.run.run_card import CARD_NAME, key_metrics, render_card, write_run_card
from tests.conftest import REPO_ROOT

GAN_ARGS = ["experiment=gan_dcgan", "data=digits", "trainer.max_steps=4"]
LINK = re.compile(r"\]\(([^)]+)\)")


def run_command(module: str, args: list[str], run_dir: Path) -> Path:
    """`python -m cnngan.<module> ARGS` writing into run_dir (the only extra override)."""
    proc = subprocess.run(
        [sys.executable, "-m", f"cnngan.{module}", *args, f"hydra.run.dir={run_dir}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    return run_dir


def card_of(run_dir: Path) -> str:
    card = (run_dir / CARD_NAME).read_text()
    for target in LINK.findall(card):  # every link of the card opens a file of the run folder
        assert (run_dir / target).is_file(), f"{CARD_NAME} links to a missing {target}"
    return card


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_command("train", GAN_ARGS, tmp_path_factory.mktemp("gan") / "run")


@pytest.fixture(scope="module")
def classifier_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A CNN trained 1 epoch on digits, then cnngan-eval on its best checkpoint."""
    tmp = tmp_path_factory.mktemp("classifier")
    train = run_command("train", ["data=digits", "trainer.max_epochs=1"], tmp / "train")
    ckpt = train / "checkpoints" / "best.ckpt"
    return train, run_command("eval", [f"ckpt_path={ckpt}"], tmp / "eval")


@pytest.mark.slow
def test_gan_dcgan_alone_scores_fid_and_keeps_the_best_fid_checkpoint(gan_run: Path) -> None:
    metrics = read_metrics(gan_run)
    assert math.isfinite(metrics["val/fid"]) and metrics["val/fid"] > 0
    best = torch.load(gan_run / "checkpoints" / "best-fid.ckpt", weights_only=True)
    (state,) = [s for k, s in best["callbacks"].items() if k.startswith("ModelCheckpoint")]
    assert state["monitor"] == "val/fid"
    assert float(state["best_model_score"]) == pytest.approx(metrics["val/fid"], rel=1e-5)
    assert best["global_step"] > 0  # the weights at the stop, scored inside the first epoch
    config = OmegaConf.load(gan_run / "config_resolved.yaml")
    assert (config.optimized_metric, config.optimized_direction) == ("val/fid", "minimize")
    assert config.trainer.max_time is None  # budget=none: the iterations are the stop


@pytest.mark.slow
def test_gan_run_card(gan_run: Path) -> None:
    card = card_of(gan_run)
    assert f"```\ncnngan-train {' '.join(GAN_ARGS)}\n```" in card  # no hydra.run.dir in it
    fid = read_metrics(gan_run)["val/fid"]
    assert f"| val/fid | {fid:.4g} |" in card
    rows = [line.split(" | ")[0] for line in card.splitlines() if line.startswith("| ")]
    assert rows[2] == "| val/fid" and rows[-1] == "| time/wall_s"  # the optimized metric first
    assert "[checkpoints/best-fid.ckpt](checkpoints/best-fid.ckpt)" in card
    assert "![samples/final.png](samples/final.png)" in card
    assert "evaluator network `digits`" in card and "not Inception" in card


@pytest.mark.slow
def test_classifier_and_eval_run_cards(classifier_runs: tuple[Path, Path]) -> None:
    train, evaluated = classifier_runs
    card = card_of(train)
    assert "cnngan-train data=digits trainer.max_epochs=1" in card
    assert "[checkpoints/best.ckpt](checkpoints/best.ckpt)" in card
    assert "![confusion_matrix.png](confusion_matrix.png)" in card
    acc = read_metrics(train)["test/acc"]
    assert f"| test/acc | {acc:.4g} |" in card and "FID" not in card
    card = card_of(evaluated)
    assert f"cnngan-eval ckpt_path={train / 'checkpoints' / 'best.ckpt'}" in card
    assert f"| test/acc | {read_metrics(evaluated)['test/acc']:.4g} |" in card
    assert "![confusion_matrix.png](confusion_matrix.png)" in card


def test_key_metrics_put_the_optimized_first_and_the_wall_time_last() -> None:
    metrics = {
        "time/wall_s": 3.0,
        "train/loss": 0.1,
        "val/loss": 0.3,
        "val/acc_best": 0.9,
        "test/loss": 0.2,
        "lr-Adam": 0.001,
        "protocol/seed": 0,
        "val/f1": 0.8,
        "test/acc": 0.91,
    }
    assert key_metrics(metrics, first=["val/loss"]) == [
        "val/loss",
        "test/acc",
        "val/acc_best",
        "val/f1",
        "test/loss",
        "time/wall_s",
    ]


def test_card_of_a_folder(tmp_path: Path) -> None:
    """Checkpoint choice (best* over others over last.ckpt), the newest picture, NaN as n/a, and
    the feature space of an Inception-feature evaluation."""
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"x")
    (tmp_path / "checkpoints" / "epoch003.ckpt").write_bytes(b"x")
    write_json(
        tmp_path / "metrics.json",
        {"fid": 12.5, "kid_mean": float("nan"), "protocol/features": "inception"},
    )
    card = render_card(tmp_path, "cnngan-eval", [])
    assert "Overrides: none (the defaults)." in card and "Newest picture" not in card
    assert "- Checkpoint: [checkpoints/epoch003.ckpt](checkpoints/epoch003.ckpt)" in card
    assert "| fid | 12.5 |" in card and "| kid_mean | n/a |" in card
    assert "Inception-v3 features" in card
    (tmp_path / "checkpoints" / "best.ckpt").write_bytes(b"x")
    (tmp_path / "samples").mkdir()
    for name in ("iter_000002.png", "final.png"):
        (tmp_path / "samples" / name).write_bytes(b"png")
    card = render_card(tmp_path, "cnngan-train", ["seed=1"], fid_evaluator="digits")
    assert "- Best checkpoint: [checkpoints/best.ckpt](checkpoints/best.ckpt)" in card
    assert "![samples/final.png](samples/final.png)" in card
    assert "```\ncnngan-train seed=1\n```" in card


def test_only_rank_zero_writes_the_card(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = OmegaConf.create({"paths": {"output_dir": str(tmp_path)}})
    monkeypatch.setenv("RANK", "1")
    assert write_run_card(cfg, "cnngan-train") is None and not (tmp_path / CARD_NAME).exists()
    monkeypatch.setenv("RANK", "0")
    assert write_run_card(cfg, "cnngan-train") == tmp_path / CARD_NAME
