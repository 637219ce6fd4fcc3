"""scripts/lever_study.py: a lever's overrides reach only its side, in ABBA order, on the small
digits data (speed itself is the study's output, never asserted)."""

from __future__ import annotations

import argparse
import sys

from tests.conftest import REPO_ROOT

if str(REPO_ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "scripts"))

import lever_study  # noqa: E402
from bench import timed_fit  # noqa: E402


def test_runs_alternate_in_abba_order() -> None:
    assert lever_study.abba(3) == ["base", "lever", "lever", "base", "base", "lever"]


def test_the_lever_overrides_only_its_own_runs(monkeypatch) -> None:
    seen: list[tuple[str, ...]] = []
    real_fit = timed_fit.cnngan_fit

    def spy(cfg, *args, **kwargs):
        seen.append((bool(cfg.model.d_joint_batch), cfg.trainer.precision))
        return real_fit(cfg, *args, **kwargs)

    monkeypatch.setattr(timed_fit, "cnngan_fit", spy)
    args = argparse.Namespace(
        task="gan",
        base=["model.generator.width=8"],
        lever=["model.d_joint_batch=true"],
        data="digits",
        warmup=1,
        steps=2,
        repeats=2,
    )
    result = lever_study.compare(args, "32-true")
    assert seen == [(False, "32-true"), (True, "32-true"), (True, "32-true"), (False, "32-true")]
    assert len(result["ratios"]) == 2 and all(r > 0 for r in result["ratios"])
    assert result["img_per_s"]["base"] > 0 and "| gan / 32-true |" in lever_study.markdown(
        args, {"32-true": result}
    )
