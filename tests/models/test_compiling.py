"""`model.compile` as true, false or a mapping of torch.compile's options: the options reach
torch.compile (a real fit with Dynamo's `eager` backend, which traces without Inductor's code
generation, so it is quick), and an unknown option is one line with exit status 2."""

from __future__ import annotations

from pathlib import Path

import hydra
import pytest
import torch._dynamo
from torch._dynamo.utils import counters

from cnngan.models.compiling import COMPILE_OPTIONS, compile_options
from cnngan.run.entry import run_entry
from cnngan.train import train
from tests.fitting import fit_without_validation

QUIET = ["trainer.accelerator=cpu", "logger=csv", "callbacks.rich_progress_bar=null"]
DIGITS = ["data=digits", "trainer.precision=32-true", "trainer.max_time=null"]
TASKS = {
    "classifier": ["model.net.channels=[8,16,32]"],
    "gan": [
        "experiment=gan_dcgan",
        "model.generator.width=16",
        "model.discriminator.width=16",
        "model.ema_decay=null",
    ],
}


def test_the_settings_map_to_torch_compile_arguments() -> None:
    assert compile_options(False) is None and compile_options(None) is None
    assert compile_options(True) == {}
    mode = {"mode": "max-autotune-no-cudagraphs", "dynamic": False}
    assert compile_options(mode) == mode
    assert {"mode", "backend", "dynamic", "fullgraph", "options"} <= COMPILE_OPTIONS
    with pytest.raises(ValueError, match=r"unknown torch.compile option\(s\) \['speed'\]"):
        compile_options({"speed": "fast"})
    with pytest.raises(ValueError, match="must be true, false or a mapping"):
        compile_options("max-autotune")


@pytest.mark.parametrize("task", sorted(TASKS))
def test_compile_options_reach_torch_compile(make_cfg, task: str) -> None:
    """With `{backend: eager}` Dynamo traces the nets' training steps into graphs (none when
    eager); the fit runs and the nets keep their eager parameter names."""
    compiled = ["model.compile={backend: eager, dynamic: false}", "++trainer.max_steps=4"]
    overrides = [*TASKS[task], *DIGITS, *QUIET, *compiled]
    cfg = make_cfg("train", overrides)
    model = hydra.utils.instantiate(cfg.model)
    names = [name for name, _ in model.named_parameters()]
    torch._dynamo.reset()
    counters.clear()
    fit_without_validation(cfg, model)
    assert counters["stats"]["unique_graphs"] >= 1
    assert [name for name, _ in model.named_parameters()] == names
    torch._dynamo.reset()
    counters.clear()
    fit_without_validation(make_cfg("train", [*overrides, "model.compile=false"], subdir="eager"))
    assert counters["stats"]["unique_graphs"] == 0


def test_an_unknown_compile_option_is_one_line_and_exit_2(make_cfg, capsys) -> None:
    cfg = make_cfg("train", [*TASKS["classifier"], *DIGITS, *QUIET, "model.compile={speed: 2}"])
    with pytest.raises(SystemExit) as exit_info:
        run_entry(cfg, train, command="cnngan-train")
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "model.compile: unknown torch.compile option(s) ['speed']" in err
    assert f"known: {sorted(COMPILE_OPTIONS)}" in err
    assert "Traceback" not in err
    assert not (Path(cfg.paths.output_dir) / "checkpoints").exists()
