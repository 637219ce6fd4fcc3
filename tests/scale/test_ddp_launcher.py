"""cnngan's DDP launcher with real subprocesses for ranks: it starts rank 1 once per job with the
parent's rendezvous, finish_distributed() restores the environment for the next job of a multirun,
a failing rank 0 ends the other ranks, and a dying rank ends its siblings but not the parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from cnngan.distributed.strategy import DDPStrategy
from tests.conftest import compose_config


def python_child(code: str) -> list[str]:
    return [sys.executable, "-c", code]


@pytest.fixture
def ddp_strategy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[DDPStrategy]:
    """The strategy of a `trainer=ddp_cpu` Trainer (2 processes) with its launcher, on an
    environment without DDP variables; checks they are gone again after the job."""
    import hydra
    import lightning

    from cnngan.distributed.launcher import DIST_ENV_VARS, HydraSubprocessLauncher
    from cnngan.distributed.lifecycle import finish_distributed

    for var in DIST_ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    cfg = compose_config("train", ["trainer=ddp_cpu"], tmp_path)
    trainer = lightning.Trainer(
        strategy=hydra.utils.instantiate(cfg.trainer.strategy),
        accelerator="cpu",
        devices=2,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    assert isinstance(trainer.strategy.launcher, HydraSubprocessLauncher)
    yield trainer.strategy
    finish_distributed()
    assert all(var not in os.environ for var in DIST_ENV_VARS)


def test_launcher_starts_ranks_once_and_finish_restores_the_environment(
    ddp_strategy: DDPStrategy,
) -> None:
    """Rank 1 runs with LOCAL_RANK=1 and the parent's rendezvous; a second `launch` (trainer.test
    after trainer.fit) starts nothing; finish_distributed() waits for the rank and puts the
    environment and the thread count back, so the next job of a multirun starts clean."""
    from cnngan.distributed.lifecycle import finish_distributed

    launcher = ddp_strategy.launcher
    check = "import os, sys; e = os.environ; sys.exit(0 if e['LOCAL_RANK'] == '1' and "
    check += "e['WORLD_SIZE'] == '2' and e['MASTER_PORT'] == sys.argv[1] else 7)"
    threads = torch.get_num_threads()
    launcher.command_fn = lambda rank: (python_child(check) + [os.environ["MASTER_PORT"]], None)
    seen = launcher.launch(lambda x: (x, dict(os.environ)), 5)
    assert seen[0] == 5 and seen[1]["LOCAL_RANK"] == "0" and seen[1]["WORLD_SIZE"] == "2"
    assert "OMP_NUM_THREADS" in seen[1]  # CPUs shared between the local ranks
    (rank1,) = launcher.procs
    assert launcher.launch(lambda: "test") == "test" and launcher.procs == [rank1]
    finish_distributed()
    assert rank1.returncode == 0, "rank 1 saw a wrong environment"
    assert "LOCAL_RANK" not in os.environ and "MASTER_PORT" not in os.environ
    assert torch.get_num_threads() == threads and launcher.procs == []


@pytest.mark.parametrize(
    ("error", "signum"),
    [(RuntimeError("rank 0 failed"), signal.SIGTERM), (KeyboardInterrupt(), signal.SIGKILL)],
)
def test_rank_zero_failing_ends_the_other_ranks(
    ddp_strategy: DDPStrategy, error: BaseException, signum: int
) -> None:
    """An exception in rank 0's fit (Lightning calls strategy.on_exception) terminates rank 1
    instead of leaving it waiting in a collective; Ctrl+C kills it."""
    launcher = ddp_strategy.launcher
    launcher.command_fn = lambda rank: (python_child("import time; time.sleep(120)"), None)
    launcher.launch(lambda: None)
    (rank1,) = launcher.procs
    ddp_strategy.on_exception(error)
    assert rank1.wait(30) == -signum


def test_a_dying_rank_ends_its_siblings_not_the_parent() -> None:
    from cnngan.distributed.launcher import RankObserver

    procs = [
        subprocess.Popen(python_child("import time; time.sleep(0.3); raise SystemExit(3)")),
        subprocess.Popen(python_child("import time; time.sleep(120)")),
    ]
    observer = RankObserver(procs, period_s=0.1)
    observer.start()
    observer.join(timeout=60)
    assert not observer.is_alive()
    assert [p.returncode for p in procs] == [3, -signal.SIGTERM]  # and this process lives on


def test_finish_closes_the_group_of_a_rank_started_by_slurm(tmp_path: Path) -> None:
    """A SLURM task is a rank with no LOCAL_RANK in its environment (srun starts it, not cnngan):
    finish_distributed() closes its process group too. Left open, gloo's threads could abort the
    process at exit after a successful job, and SLURM marked the job FAILED (CI, 2026-12-07)."""
    code = f"""
import os, sys, torch.distributed as dist
from cnngan.distributed.lifecycle import finish_distributed
assert "LOCAL_RANK" not in os.environ
dist.init_process_group("gloo", init_method="file://{tmp_path / "store"}", rank=0, world_size=1)
finish_distributed()
sys.exit(3 if dist.is_initialized() else 0)
"""
    env = {k: v for k, v in os.environ.items() if k not in ("LOCAL_RANK", "RANK", "WORLD_SIZE")}
    env.update(SLURM_JOB_ID="7", SLURM_PROCID="0", SLURM_NTASKS="1")
    proc = subprocess.run(python_child(code), env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"the group is still open ({proc.returncode}):\n{proc.stderr}"
