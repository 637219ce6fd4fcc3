"""cnngan-eval's GAN path (cnngan.evaluate_gan, through cnngan.eval.evaluate) end to end on the 8x8 digits, with a small digits
evaluator trained for the test: the legacy GAN checkpoint, sample files, CAS, and the messages."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cnngan.data.sources import load_digits
from cnngan.eval import evaluate
from cnngan.metrics.evaluator import EvaluatorError, sha256_file
from cnngan.metrics.suite import SCORE_KEYS
from cnngan.run.entry import run_entry
from cnngan.run.metrics_file import PROTOCOL_PREFIX, read_metrics
from cnngan.train import train
from tests.callbacks.test_gan_callbacks import TINY
from tests.conftest import REPO_ROOT, compose_config
from tests.metrics.digits_evaluator import write_digits_evaluator

LEGACY_GAN = REPO_ROOT / "tests" / "fixtures" / "legacy" / "gan_dcgan_digits.ckpt"


def protocol_of(metrics: dict) -> dict:
    """The `protocol/<key>` entries of a metrics.json, without the prefix."""
    return {
        k.removeprefix(PROTOCOL_PREFIX): v
        for k, v in metrics.items()
        if k.startswith(PROTOCOL_PREFIX)
    }


@pytest.fixture(scope="module")
def digits_evaluator(tmp_path_factory) -> Path:
    return write_digits_evaluator(tmp_path_factory.mktemp("evaluator"))


def small_suite(evaluator: Path, n: int = 200) -> list[str]:
    return [
        f"metrics.evaluator={evaluator}",
        f"metrics.num_samples={n}",
        "metrics.suite.kid_subsets=5",
        "metrics.suite.kid_subset_size=100",
        "metrics.device=cpu",
    ]


def test_eval_scores_the_legacy_gan_checkpoint(digits_evaluator: Path, make_cfg) -> None:
    cfg = make_cfg("eval", [f"ckpt_path={LEGACY_GAN}", *small_suite(digits_evaluator)])
    result = evaluate(cfg)
    saved = read_metrics(cfg.paths.output_dir)
    assert saved == result and set(SCORE_KEYS) <= set(saved)
    protocol = protocol_of(saved)
    assert protocol["evaluator_sha256"] == sha256_file(digits_evaluator)
    assert (protocol["dataset"], protocol["reference"], protocol["source"]) == (
        "digits",
        "test",
        str(LEGACY_GAN),
    )
    assert (protocol["n_real"], protocol["n_fake"], protocol["kid_subset_size"]) == (200, 200, 100)
    assert sum(saved[f"mode_counts/{c}"] for c in range(10)) == 200
    assert not any(isinstance(v, dict) for v in saved.values())  # one flat shape

    # the same real digits as a sample file: far closer to the test split than a 4-step GAN
    real = load_digits().train_x[:200]
    torch.save(real, Path(cfg.paths.output_dir) / "real.pt")
    files = make_cfg(
        "eval",
        [f"samples_path={Path(cfg.paths.output_dir) / 'real.pt'}", *small_suite(digits_evaluator)],
        subdir="real",
    )
    floor = evaluate(files)
    assert floor["fid"] < 0.2 * result["fid"]
    assert floor["recall"] > result["recall"] and floor["modes_covered"] == 10


def test_suite_settings_come_from_the_metrics_config(digits_evaluator: Path, make_cfg) -> None:
    cfg = make_cfg(
        "eval",
        [f"ckpt_path={LEGACY_GAN}", *small_suite(digits_evaluator, n=120), "metrics.suite.pr_k=5"],
    )
    protocol = protocol_of(evaluate(cfg))
    assert (protocol["pr_k"], protocol["dc_k"], protocol["n_fake"]) == (5, 5, 120)


def test_a_missing_evaluator_is_a_user_error_naming_the_fix(make_cfg, capsys) -> None:
    overrides = [f"ckpt_path={LEGACY_GAN}", "metrics.device=cpu", "metrics.evaluator=mnist"]
    cfg = make_cfg("eval", overrides)
    with pytest.raises(EvaluatorError, match="make evaluator"):  # no mnist evaluator ships
        evaluate(cfg)
    with pytest.raises(SystemExit) as exit_info:
        run_entry(cfg, evaluate, command="cnngan-eval")
    assert exit_info.value.code == 2
    assert "cnngan-eval: error: no evaluator 'mnist'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def cond_gan(tmp_path_factory) -> Path:
    """A conditional DCGAN on digits, 2 iterations: enough for a checkpoint with labels."""
    out = tmp_path_factory.mktemp("cond_gan")
    cfg = compose_config(
        "train",
        ["experiment=gan_dcgan_cond", *TINY, "trainer.max_epochs=1", "logger=none"],
        out,
    )
    train(cfg)
    return out / "checkpoints" / "last.ckpt"


@pytest.mark.slow
def test_cas_trains_the_metrics_config_classifier_on_samples(
    cond_gan: Path, digits_evaluator: Path, make_cfg
) -> None:
    overrides = [
        f"ckpt_path={cond_gan}",
        *small_suite(digits_evaluator, n=100),
        "metrics.cas.enabled=true",
        "metrics.cas.num_train=600",
        "metrics.cas.epochs=3",
        "metrics.cas.model.net.channels=[8,16]",
    ]
    result = evaluate(make_cfg("eval", overrides))
    assert (result["cas_num_train"], result["cas_epochs"]) == (600, 3)
    # 27 steps on 600 real 8x8 digits reach far above chance (0.1); samples of a GAN trained
    # for 2 iterations teach (almost) nothing
    assert result["cas_real_acc"] > 0.5 and result["cas_real_acc"] > result["cas_acc"] + 0.2
    assert result["cas_ratio"] == pytest.approx(result["cas_acc"] / result["cas_real_acc"])
