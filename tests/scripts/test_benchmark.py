"""`make bench` (scripts/benchmark.py) runs end to end with a tiny step count and prints its table.

Speed itself is never asserted (shared, noisy machines): these tests check that every part of the
benchmark runs and reports what it promises.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from tests.conftest import REPO_ROOT

TINY = [
    "--data",
    "digits",
    "--steps",  # warm-up + steps > 5: OneCycleLR (default classifier) refuses shorter runs
    "4",
    "--warmup",
    "2",
    "--rounds",
    "2",
    "--augment-images",
    "256",
]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "cnngan_benchmark", REPO_ROOT / "scripts" / "benchmark.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def keep_torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def table_row(out: str, task: str, contender: str) -> tuple[float, float]:
    """(images/s, ratio to plain) of one row of the printed table."""
    found = re.search(rf"^{task}\s+{re.escape(contender)}\s+(\d+)\s+(\d+\.\d+)", out, re.MULTILINE)
    assert found, f"no table row for {task} {contender} in:\n{out}"
    return float(found.group(1)), float(found.group(2))


@pytest.mark.slow
def test_classifier_benchmark_with_startup_and_peak_memory(bench, tmp_path: Path, capsys) -> None:
    results = bench.main(
        ["--tasks", "classifier", "--switches", "default,fused", *TINY, "--startup-runs", "1"]
        + ["--rss-switches", "none", "--out", str(tmp_path)]
    )
    out = capsys.readouterr().out
    assert "x plain" in out and "peak RSS" in out and "per-image torchvision" in out
    assert table_row(out, "classifier", "plain")[1] == 1.0
    for name in ("cnngan", "cnngan+fused"):
        assert table_row(out, "classifier", name)[0] > 0
    assert re.search(r"^classifier\s+start-up to 1st step\s+\d+\.\d+s", out, re.MULTILINE)
    saved = json.loads(Path(results["path"]).read_text())
    assert Path(results["path"]).parent.parent == tmp_path
    part = saved["classifier"]
    assert part["imgs_per_s"] > 0 and part["ratio"] > 0 and part["plain_imgs_per_s"] > 0
    assert len(part["contenders"]["cnngan+fused"]["runs_imgs_per_s"]) == 2  # one per round
    assert part["contenders"]["cnngan+fused"]["overrides"] == ["++model.optimizer.fused=true"]
    assert saved["startup_s"] == part["startup_s"] > 0
    # peak RSS comes from a fresh process per contender (here only the plain loop)
    assert set(part["peak_rss_mb"]) == {"plain"} and part["peak_rss_mb"]["plain"] > 0
    machine = saved["machine"]
    assert (
        machine["torch"] == torch.__version__
        and machine["cpu_model"]
        and machine["logical_cores"] >= 1
    )
    assert saved["gpu_run"].startswith("done" if torch.cuda.is_available() else "not done")


@pytest.mark.slow
def test_gan_benchmark_prints_its_rows(bench, tmp_path: Path, capsys) -> None:
    results = bench.main(
        ["--tasks", "gan", "--switches", "default", *TINY, "--startup-runs", "0", "--no-rss"]
        + ["--out", str(tmp_path)]
    )
    out = capsys.readouterr().out
    assert table_row(out, "gan", "plain")[1] == 1.0
    assert table_row(out, "gan", "cnngan")[0] > 0
    saved = json.loads(Path(results["path"]).read_text())
    assert saved["gan"]["ratio"] > 0 and saved["gan"]["imgs_per_s"] > 0
    assert saved["startup_s"] is None  # not measured in this run, and said so
    assert "classifier" not in saved


def test_startup_reader_reports_a_run_that_never_steps(bench) -> None:
    cmd = [sys.executable, "-c", "print('config printed'); print('crashed before training')"]
    seconds, tail = bench._first_step_seconds(
        cmd, dict(os.environ), "cnngan-first-optimizer-step-s:", timeout=60
    )
    assert seconds is None and "crashed before training" in tail
    cmd = [sys.executable, "-c", "print('x'); print('cnngan-first-optimizer-step-s: 3.25')"]
    assert bench._first_step_seconds(
        cmd, dict(os.environ), "cnngan-first-optimizer-step-s:", timeout=60
    ) == (3.25, "")


def test_switches_are_config_overrides_that_compose(bench, tmp_path: Path) -> None:
    switches = bench.TASKS["classifier"].switches
    cfg = bench.compose("classifier", switches["fast"], tmp_path)
    assert cfg.model.optimizer.fused is True and cfg.data.channels_last is True
    assert cfg.model.channels_last is True  # the model follows the data's memory format
    cfg = bench.compose("classifier", switches["nchw"] + switches["foreach"], tmp_path)
    assert cfg.model.channels_last is False and cfg.model.optimizer.foreach is True
    switches = bench.TASKS["gan"].switches
    cfg = bench.compose("gan", switches["fast"], tmp_path)
    assert cfg.model.g_optimizer.fused is True and cfg.model.d_optimizer.fused is True
    cfg = bench.compose("gan", switches["compile"] + switches["bf16"], tmp_path)
    assert cfg.model.compile is True and cfg.trainer.precision == "bf16-mixed"
