"""Every command in a ```bash block of README.md and docs/getting-started.md runs, in order, as a
real process, with small budgets added (the 8x8 digits, a few steps).

The budgets are keyed by the command (program and, for cnngan-train, whether it trains a GAN); a
documented command that matches no rule fails the test, so the pages cannot drift from what runs.
Paths under `logs/` are moved into a temporary folder, so that each command finds the previous
one's output there and the repository stays clean.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PAGES = ["README.md", "docs/getting-started.md"]
QUIET = ["extras.print_config=false"]
CLASSIFIER = [
    "data=digits",
    "trainer.max_epochs=1",
    "+trainer.limit_train_batches=4",
    "+trainer.limit_val_batches=1",
    "+trainer.limit_test_batches=1",
    "callbacks.rich_progress_bar=null",
    *QUIET,
]
GAN = ["data=digits", "trainer.max_steps=4", "callbacks.rich_progress_bar=null", *QUIET]
SEARCH = [*CLASSIFIER, "hydra.sweeper.n_trials=2"]
EVAL = ["metrics.num_samples=200", *QUIET]
INPAINT = ["n=4", "inversion.steps=5", "inversion.restarts=2", "grid_images=4", "device=cpu"]
# commands that `make test` itself runs before this suite can start, and the suite itself
ALREADY_RUN = {"make install", "make data", "make test"}


def documented_commands(page: str) -> list[str]:
    """The command lines of the page's ```bash blocks (continuations joined, comments dropped)."""
    text = (REPO_ROOT / page).read_text()
    commands = []
    for block in re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split(" #", 1)[0].strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def budget_for(words: list[str]) -> list[str] | None:
    """The small-budget overrides for one documented command, or None if no rule matches."""
    program, rest = words[0], " ".join(words[1:])
    if program == "make":
        target = words[1]
        return {"train": CLASSIFIER, "train-gan": GAN, "lint": []}.get(target)
    if program == "cnngan-train":
        if "hparams_search=" in rest:
            return SEARCH
        return GAN if "experiment=gan" in rest else CLASSIFIER
    return {
        "cnngan-eval": EVAL,
        "cnngan-sample": [],
        "cnngan-predict": [],
        "cnngan-inpaint": INPAINT,
    }.get(program)


def with_budget(words: list[str], budget: list[str], tmp: Path) -> list[str]:
    """The command with logs/ moved under tmp and the budget's keys replacing the page's own."""
    keys = {b.split("=", 1)[0].lstrip("+") for b in budget}
    words = [w.replace("logs/", f"{tmp}/logs/") for w in words]
    if words[0] == "make":
        args = next((w[5:] for w in words if w.startswith("ARGS=")), "")
        page_args = [a for a in shlex.split(args) if a.split("=", 1)[0].lstrip("+") not in keys]
        all_args = [*page_args, *budget, f"paths.log_dir={tmp}/logs"]
        target = [w for w in words if not w.startswith("ARGS=")]
        return [*target, f"ARGS={shlex.join(all_args)}"] if words[1] != "lint" else target
    kept = [w for w in words if w.split("=", 1)[0].lstrip("+") not in keys]
    program = words[0].removeprefix("cnngan-")
    return [
        sys.executable,
        "-m",
        f"cnngan.{program}",
        *kept[1:],
        *budget,
        f"paths.log_dir={tmp}/logs",
    ]


def test_every_documented_command_has_a_rule() -> None:
    for page in PAGES:
        commands = documented_commands(page)
        assert commands, f"{page} has no ```bash block"
        for command in commands:
            if command in ALREADY_RUN:
                continue
            assert budget_for(shlex.split(command)) is not None, (
                f"{page}: no test rule for `{command}`: add one to {Path(__file__).name}"
            )


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_documented_commands_run(page: str, tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path / "home"), "MPLCONFIGDIR": str(tmp_path / "mpl")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    env.pop("VIRTUAL_ENV", None)
    for command in documented_commands(page):
        if command in ALREADY_RUN:
            continue
        words = shlex.split(command)
        argv = with_budget(words, budget_for(words) or [], tmp_path)
        proc = subprocess.run(
            argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900
        )
        output = (proc.stdout + proc.stderr)[-3000:]
        assert proc.returncode == 0, f"{page}: `{command}` failed ({argv}):\n{output}"
