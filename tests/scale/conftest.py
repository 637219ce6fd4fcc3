"""Helpers for the scale tests: run `cnngan-train` as a real process, read W&B offline runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, skip_or_fail

# quiet, fast runs on the bundled 8x8 digits
QUIET = [
    "extras.print_config=false",
    "callbacks.rich_progress_bar=null",
    "callbacks.model_summary=null",
]
TINY = ["data=digits", "trainer.max_epochs=1", *QUIET]
FEW_BATCHES = [
    "+trainer.limit_train_batches=10",  # a few steps of every phase of the OneCycleLR schedule
    "+trainer.limit_val_batches=1",
    "+trainer.limit_test_batches=1",
]


def clean_env(home: Path) -> dict[str, str]:
    """The environment of a user without W&B credentials (HOME is a fresh folder)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    home.mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), PYTHONUNBUFFERED="1", MPLCONFIGDIR=str(home / ".mpl"))
    env.pop("NETRC", None)
    return env


def train_command(args: Sequence[str]) -> list[str]:
    """`cnngan-train ARGS` as the console script runs it."""
    return [sys.executable, "-m", "cnngan.train", *args]


def run_train(args: Sequence[str], tmp: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run cnngan-train with every output under tmp; fail with the output's tail on error."""
    proc = subprocess.run(
        train_command([*args, f"paths.log_dir={tmp / 'logs'}"]),
        cwd=REPO_ROOT,
        env=clean_env(tmp / "home"),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"cnngan-train failed ({proc.returncode}):\n{tail(proc)}"
    return proc


def tail(proc: subprocess.CompletedProcess, n: int = 6000) -> str:
    return ((proc.stdout or "") + "\n" + (proc.stderr or ""))[-n:]


def wandb_offline_runs(run_dir: Path) -> list[Path]:
    return sorted((run_dir / "wandb").glob("offline-run-*"))


def wandb_records(offline_run: Path) -> list[dict]:
    """Every record of an offline run's .wandb log, read back by wandb's own reader."""
    files = list(offline_run.glob("run-*.wandb"))
    assert len(files) == 1, f"expected one .wandb file in {offline_run}, found {files}"
    wandb_cli = shutil.which("wandb", path=str(Path(sys.executable).parent)) or "wandb"
    out = subprocess.run(
        [wandb_cli, "leet", "inspect", "--json", str(files[0])],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def wandb_grid_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-job grid multirun (pooling max/avg) logging to W&B offline; returns the sweep dir.
    Shared by the sweep and the W&B tests (one process run for both)."""
    tmp = tmp_path_factory.mktemp("grid_wandb")
    sweep_dir = tmp / "sweep"
    run_train(
        [
            "-m",
            *TINY,
            "logger=wandb",
            "model.net.pool=max,avg",
            "tags=[scale_test,digits]",
            f"hydra.sweep.dir={sweep_dir}",
        ],
        tmp,
    )
    return sweep_dir


# ------------------------------------------------------------------------ a real SLURM cluster
SLURM_SCRIPT = REPO_ROOT / "scripts" / "slurm_local.py"
SLURM_NODES = 2


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[Path]:
    """A two-node SLURM cluster on this machine for the session (nodes n1, n2: one slurmd each);
    yields its slurm.conf. Skipped where it cannot start, a failure under CI=true.

    Started by scripts/slurm_local.py in a private folder with private ports (so it coexists with
    `make slurm-up`), stopped at the end by the process ids the script recorded."""
    if os.geteuid() != 0:
        skip_or_fail("the local SLURM cluster needs root (slurmd runs the jobs)")
    folder = Path(tempfile.mkdtemp(prefix="cnngan-slurm-"))
    command = [sys.executable, str(SLURM_SCRIPT)]
    where = ["--dir", str(folder)]
    started = subprocess.run(
        [*command, "up", *where, "--nodes", str(SLURM_NODES)] + ["--port", "0"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    try:
        if started.returncode != 0:
            reason = (started.stderr or started.stdout).strip()[-2000:]
            skip_or_fail(f"SLURM cluster unavailable: {reason}")
        yield folder / "slurm.conf"
    finally:
        subprocess.run([*command, "down", *where], capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------- a private PostgreSQL server
POSTGRES_SCRIPT = REPO_ROOT / "scripts" / "postgres_local.py"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL 15 server on this machine for the session; yields the SQLAlchemy URL of its
    database. Started by scripts/postgres_local.py with a private data folder on a free port,
    stopped at the end by the process id the script recorded. Skipped where it cannot start, a
    failure under CI=true."""
    try:
        import psycopg  # noqa: F401  (SQLAlchemy's driver for postgresql:// URLs)
    except ImportError:
        skip_or_fail("no psycopg: pip install 'psycopg[binary]' (the sweep extra)")
    folder = Path(tempfile.mkdtemp(prefix="cnngan-postgres-"))
    command = [sys.executable, str(POSTGRES_SCRIPT)]
    started = subprocess.run(
        [*command, "up", "--dir", str(folder)], capture_output=True, text=True, timeout=180
    )
    try:
        if started.returncode != 0:
            reason = (started.stderr or started.stdout).strip()[-2000:]
            skip_or_fail(f"PostgreSQL server unavailable: {reason}")
        yield (folder / "url").read_text().strip()
    finally:
        subprocess.run([*command, "down", "--dir", str(folder)], capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)
