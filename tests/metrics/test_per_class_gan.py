"""Per-class GAN metrics end to end on a conditional GAN trained for real (8x8 digits, the shipped
digits evaluator): logged by the FID callback during training, written by cnngan-eval, and a
collapse made inside one class shows there and nowhere else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cnngan.core.errors import BadInputError
from cnngan.eval import evaluate
from cnngan.run.metrics_file import read_metrics
from tests.metrics.tiny_cond_gan import tiny_conditional_gan

pytestmark = pytest.mark.slow  # trains the tiny conditional GAN once per session

CLASSES = range(10)
SUITE = [
    "metrics.num_samples=400",
    "metrics.suite.kid_subsets=5",
    "metrics.suite.kid_subset_size=100",
    "metrics.device=cpu",
]


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory) -> Path:
    return tiny_conditional_gan(tmp_path_factory)


def collapse_one_class(ckpt: Path, label: int, out: Path) -> Path:
    """The checkpoint with class `label` collapsed: a zero gain in G's class-conditional batch
    norm for that class makes its every sample the same image; other classes are untouched."""
    checkpoint = torch.load(ckpt, weights_only=True)
    gains = [k for k in checkpoint["state_dict"] if k.endswith(".gain.weight")]
    assert gains, "the recipe's generator has class-conditional batch norm"
    for key in gains:
        checkpoint["state_dict"][key][label] = 0.0
    torch.save(checkpoint, out)
    return out


def test_the_fid_callback_logs_per_class_scores_during_training(cond_run: Path) -> None:
    metrics = json.loads((cond_run / "metrics.json").read_text())
    recalls = [metrics[f"val/recall_class/{c}"] for c in CLASSES]
    assert metrics["val/recall_class_min"] == pytest.approx(min(recalls))
    fids = [metrics[f"val/fid_class/{c}"] for c in CLASSES]
    assert metrics["val/fid_class_max"] == pytest.approx(max(fids))
    history = json.loads((cond_run / "gan_metrics_history.json").read_text())["scores"]
    assert "precision_class_min" in history[-1]


def test_eval_writes_per_class_scores_and_a_collapse_shows_in_its_class(
    cond_run: Path, make_cfg, tmp_path: Path
) -> None:
    ckpt = cond_run / "checkpoints" / "last.ckpt"
    healthy = evaluate(make_cfg("eval", [f"ckpt_path={ckpt}", *SUITE], subdir="healthy"))
    saved = read_metrics(Path(make_cfg("eval", [], subdir="healthy").paths.output_dir))
    assert saved["protocol/per_class"] is True
    for score in ("fid", "precision", "recall"):
        assert all(saved[f"{score}_class/{c}"] is not None for c in CLASSES)
    assert saved["recall_class_min"] == min(saved[f"recall_class/{c}"] for c in CLASSES)
    # the digits evaluator reads the drawn class in most samples (the tiny GAN follows labels)
    assert saved["label_acc"] > 0.5 and saved["label_acc_real"] > 0.9
    assert saved["label_acc_class_min"] == min(saved[f"label_acc_class/{c}"] for c in CLASSES)

    broken_ckpt = collapse_one_class(ckpt, 3, tmp_path / "collapsed.ckpt")
    broken = evaluate(make_cfg("eval", [f"ckpt_path={broken_ckpt}", *SUITE], subdir="broken"))
    # class 3 is now one image: by far the worst class, and its FID jumps
    assert broken["fid_class_max"] == broken["fid_class/3"] > 2 * healthy["fid_class/3"]
    assert broken["precision_class/3"] in (0.0, 1.0)  # one point: inside the manifold or not
    # the same latents and labels: every other class scores exactly as before
    for c in set(CLASSES) - {3}:
        for score in ("fid", "precision", "recall", "label_acc"):
            key = f"{score}_class/{c}"
            assert broken[key] == pytest.approx(healthy[key], rel=1e-9), key
    # the overall FID moves far less than the collapsed class's own
    assert broken["fid"] - healthy["fid"] < broken["fid_class/3"] - healthy["fid_class/3"]


def test_eval_scores_truncated_samples_as_a_protocol_of_their_own(cond_run: Path, make_cfg) -> None:
    """metrics.truncation draws every scored sample from the truncated latent: less variety
    (lower recall) than the untruncated samples of the same seed, and the truncation is written
    with the scores; a truncation that cannot be is the user's to fix."""
    ckpt = cond_run / "checkpoints" / "last.ckpt"
    plain = evaluate(make_cfg("eval", [f"ckpt_path={ckpt}", *SUITE], subdir="untruncated"))
    overrides = [f"ckpt_path={ckpt}", *SUITE, "metrics.truncation=0.3"]
    truncated = evaluate(make_cfg("eval", overrides, subdir="truncated"))
    saved = read_metrics(Path(make_cfg("eval", [], subdir="truncated").paths.output_dir))
    assert saved["protocol/truncation"] == 0.3
    assert (
        read_metrics(Path(make_cfg("eval", [], subdir="untruncated").paths.output_dir))[
            "protocol/truncation"
        ]
        is None
    )
    assert truncated["recall"] < plain["recall"], (truncated["recall"], plain["recall"])
    bad = [f"ckpt_path={ckpt}", *SUITE, "metrics.truncation=-1"]
    with pytest.raises(BadInputError, match=r"metrics.truncation=-1 must be a number above 0"):
        evaluate(make_cfg("eval", bad, subdir="bad"))
