"""DDP that works the same from a single run, a Hydra multirun, joblib workers or SLURM.

Lightning's DDP (start_method="popen") re-runs the current script for every extra local rank. With
Hydra it re-uses `sys.argv` plus `hydra.run.dir=<the run-dir pattern>`, which breaks multiruns:
the children see `-m` and the sweep lists and start whole sweeps of their own, and they would
write into a `runs/` folder instead of the job's `multiruns/<timestamp>/<job>/`. After a job, the
parent also keeps `LOCAL_RANK`/`MASTER_PORT`/... in its environment and its process group
alive, so the next job of a sweep believes its ranks are launched externally and hangs.

`DDPStrategy` here fixes all of it:

- each child runs `python -m cnngan.<entry>` with the job's own resolved overrides (no sweep
  lists, `hydra.mode=RUN`) and `hydra.run.dir=<this job's output dir>`: ranks share one run dir;
- `finish_distributed()` (called when a job ends) waits for the children, destroys the process
  group and restores the environment, so the next job of a multirun starts clean;
- a child that dies terminates its siblings but not the parent process (Lightning's observer
  SIGKILLs the parent, which would end a whole sweep): the parent's next collective fails, the
  job is reported as failed and the sweep goes on;
- every rank gets its own random stream (seed + global rank) for noise, dropout and
  augmentation, while the data split, the DistributedSampler order and the initial weights stay
  shared (DDP broadcasts rank 0's weights);
- `find_unused_parameters="auto"` enables unused-parameter detection for manual optimization
  (GANs: the generator is unused in the discriminator's backward and vice versa).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import random
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from lightning.fabric.utilities.distributed import _set_num_threads_if_needed
from lightning.pytorch.strategies import DDPStrategy as _LightningDDPStrategy
from lightning.pytorch.strategies.launchers.subprocess_script import (
    _basic_subprocess_cmd,
    _SubprocessScriptLauncher,
)

log = logging.getLogger(__name__)

# Variables the launcher sets in the parent's environment; restored when the job ends.
DIST_ENV_VARS = (
    "MASTER_ADDR",
    "MASTER_PORT",
    "NODE_RANK",
    "LOCAL_RANK",
    "WORLD_SIZE",
    "OMP_NUM_THREADS",
)
# Hydra overrides that belong to the sweep or to the parent's run dir, never to a rank's command.
_PARENT_ONLY_HYDRA_KEYS = (
    "hydra.mode",
    "hydra.run.dir",
    "hydra.output_subdir",
    "hydra.job.name",
    "hydra.sweep",
    "hydra.sweeper",
    "hydra/sweeper",
    "hydra.launcher",
    "hydra/launcher",
    "hydra.callbacks",
)

_active_launchers: list[HydraSubprocessLauncher] = []


def is_rank_zero_process() -> bool:
    """True unless the environment says this process is a non-zero DDP rank. Works before any
    trainer exists: for Lightning's child ranks, torchrun workers and SLURM tasks."""
    for var in ("RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        if os.environ.get(var) is not None:
            return int(os.environ[var]) == 0
    return int(os.environ.get("LOCAL_RANK", 0)) == 0 and int(os.environ.get("NODE_RANK", 0)) == 0


def _is_parent_only(override: str) -> bool:
    key = override.lstrip("+~").split("=", 1)[0]
    return any(key == k or key.startswith(k + ".") for k in _PARENT_ONLY_HYDRA_KEYS)


def _entry_module(config_name: str) -> str | None:
    """The module to run for a rank: `cnngan.<config_name>` (train, eval, predict) when it exists,
    else the module the parent was started with (`python -m pkg.mod`)."""
    candidate = f"cnngan.{config_name}"
    if importlib.util.find_spec(candidate) is not None:
        return candidate
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return spec.name if spec is not None else None


def hydra_child_command(
    local_rank: int, entry_module: str | None = None
) -> tuple[list[str], str | None]:
    """The command (and cwd) that starts `local_rank` of the current Hydra job.

    It replays this job's overrides, not `sys.argv`: in a multirun `sys.argv` holds the sweep
    (`-m lr=1e-3,1e-2`), under joblib or submitit it is the worker's bootstrap command.
    """
    from hydra.core.hydra_config import HydraConfig

    hc = HydraConfig.get()
    module = entry_module or _entry_module(hc.job.config_name)
    command = [sys.executable] + (["-m", module] if module else [os.path.abspath(sys.argv[0])])
    command.append(f"--config-name={hc.job.config_name}")
    for source in hc.runtime.config_sources:
        if source.schema != "file":
            continue
        if source.provider == "main":  # the same primary config dir, even if given by -cp
            command.append(f"--config-path={source.path}")
        elif source.provider == "command-line":  # --config-dir
            command.append(f"--config-dir={source.path}")
    command += [o for o in hc.overrides.hydra if not _is_parent_only(o)]
    command += list(hc.overrides.task)
    command += [
        f'hydra.run.dir="{hc.runtime.output_dir}"',
        "hydra.output_subdir=null",
        f"hydra.job.name={hc.job.name}_rank{local_rank}",
        "hydra.mode=RUN",
    ]
    return command, hc.runtime.cwd


class _ChildObserver(threading.Thread):
    """Watches the rank processes; when one fails, terminates the others (not the parent)."""

    def __init__(self, procs: list[subprocess.Popen], period_s: float = 2.0) -> None:
        super().__init__(daemon=True, name="cnngan-ddp-observer")
        self.procs = procs
        self.period_s = period_s
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        while not self._stop_event.wait(self.period_s):
            codes = [p.poll() for p in self.procs]
            if all(code == 0 for code in codes):
                return
            failed = [(i + 1, code) for i, code in enumerate(codes) if code not in (None, 0)]
            if failed:
                log.error(
                    "DDP rank(s) %s exited with code(s) %s; terminating the other ranks",
                    [r for r, _ in failed],
                    [c for _, c in failed],
                )
                _terminate(self.procs)
                return


def _terminate(procs: list[subprocess.Popen], grace_s: float = 10.0) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class HydraSubprocessLauncher(_SubprocessScriptLauncher):
    """Lightning's script launcher with Hydra-correct child commands and a clean end of job."""

    def __init__(self, *args: Any, entry_module: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.entry_module = entry_module
        self._saved_env: dict[str, str | None] = {}
        self._saved_threads = torch.get_num_threads()
        self._observer: _ChildObserver | None = None

    def launch(self, function: Callable, *args: Any, trainer: Any = None, **kwargs: Any) -> Any:
        self.cluster_environment.validate_settings(
            num_devices=self.num_processes, num_nodes=self.num_nodes
        )
        if not self.cluster_environment.creates_processes_externally:
            self._saved_env = {var: os.environ.get(var) for var in DIST_ENV_VARS}
            self._saved_threads = torch.get_num_threads()
            self._call_children_scripts()
            self._observer = _ChildObserver(self.procs)
            self._observer.start()
            _active_launchers.append(self)
        _set_num_threads_if_needed(num_processes=self.num_processes)
        return function(*args, **kwargs)

    def _call_children_scripts(self) -> None:
        from hydra.core.hydra_config import HydraConfig

        self._check_can_spawn_children()
        self.procs = []
        env = self.cluster_environment
        os.environ["MASTER_ADDR"] = env.main_address
        os.environ["MASTER_PORT"] = str(env.main_port)
        os.environ["NODE_RANK"] = str(env.node_rank())
        os.environ["LOCAL_RANK"] = str(env.local_rank())
        os.environ["WORLD_SIZE"] = f"{self.num_processes * self.num_nodes}"
        for local_rank in range(1, self.num_processes):
            child_env = os.environ.copy()
            child_env["LOCAL_RANK"] = str(local_rank)
            if os.environ.get("PL_GLOBAL_SEED") is None:
                child_env.pop("PL_GLOBAL_SEED", None)
            if HydraConfig.initialized():
                command, cwd = hydra_child_command(local_rank, self.entry_module)
            else:
                command, cwd = list(_basic_subprocess_cmd()), None
            log.debug("starting rank %d: %s", local_rank, " ".join(command))
            self.procs.append(subprocess.Popen(command, env=child_env, cwd=cwd))

    def finish(self, timeout_s: float = 300.0) -> list[int]:
        """Wait for the ranks, close the process group, restore the environment; return the
        ranks' exit codes."""
        if self._observer is not None:
            self._observer.stop()
        codes = []
        for rank, proc in enumerate(self.procs, start=1):
            try:
                codes.append(proc.wait(timeout_s))
            except subprocess.TimeoutExpired:
                log.error(
                    "DDP rank %d still running %.0f s after rank 0 finished; killing it",
                    rank,
                    timeout_s,
                )
                _terminate([proc], grace_s=5.0)
                codes.append(proc.returncode)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        for var, value in self._saved_env.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
        torch.set_num_threads(self._saved_threads)
        self.procs = []
        return codes


def finish_distributed() -> None:
    """End-of-job cleanup for DDP runs started by this process (a no-op otherwise).

    Call it once the job (fit + test) is over: the next job of a multirun then spawns its own
    ranks on a fresh port instead of waiting for ranks that are gone.
    """
    while _active_launchers:
        codes = _active_launchers.pop().finish()
        failed = {rank: code for rank, code in enumerate(codes, start=1) if code != 0}
        if failed:
            log.error("DDP ranks exited with non-zero codes %s; see their output above", failed)
    if (
        torch.distributed.is_available()
        and torch.distributed.is_initialized()
        and "LOCAL_RANK" in os.environ
    ):
        # a child rank (or a SLURM task): close the group so the process exits promptly
        torch.distributed.destroy_process_group()


def seed_this_rank(base_seed: int, rank: int) -> int:
    """Seed Python, NumPy and torch (CPU and CUDA) with `base_seed + rank`; leaves PL_GLOBAL_SEED
    alone, because Lightning's DistributedSampler takes its shuffling seed from it and that seed
    must be the same on every rank."""
    seed = (base_seed + rank) % (2**32)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return seed


def broadcast_buffers(module: torch.nn.Module, src: int = 0) -> None:
    """Copy every buffer (batch-norm statistics, ...) of `module` from rank `src` to all ranks."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return
    for buffer in module.buffers():
        torch.distributed.broadcast(buffer.data, src=src)


class DDPStrategy(_LightningDDPStrategy):
    """Lightning's DDPStrategy, safe under Hydra multiruns (see the module docstring).

    Args:
        find_unused_parameters: True/False, or "auto": True for manual optimization (GANs),
            False otherwise (faster).
        seed_per_rank: reseed every rank with `seed + global_rank` after the process group is up,
            so ranks draw different noise/dropout/augmentation (Lightning seeds all ranks alike).
        sync_buffers_at_end: broadcast rank 0's buffers when training ends (see `on_train_end`).
        entry_module: module the extra ranks run (default: `cnngan.<config name>`).
        **kwargs: Lightning's DDPStrategy arguments (`process_group_backend`, `timeout`,
            `start_method`, ...) and DistributedDataParallel's (`static_graph`, ...).
    """

    def __init__(
        self,
        *args: Any,
        find_unused_parameters: bool | str = "auto",
        seed_per_rank: bool = True,
        sync_buffers_at_end: bool = True,
        entry_module: str | None = None,
        **kwargs: Any,
    ) -> None:
        if find_unused_parameters not in (True, False, "auto"):
            raise ValueError(
                f"find_unused_parameters={find_unused_parameters!r}; use true, false or auto"
            )
        super().__init__(*args, **kwargs)
        self.find_unused_parameters = find_unused_parameters
        self.seed_per_rank = seed_per_rank
        self.sync_buffers_at_end = sync_buffers_at_end
        self.entry_module = entry_module

    def _configure_launcher(self) -> None:
        if self._start_method != "popen":
            super()._configure_launcher()
            return
        assert self.cluster_environment is not None
        self._launcher = HydraSubprocessLauncher(
            self.cluster_environment,
            self.num_processes,
            self.num_nodes,
            entry_module=self.entry_module,
        )

    def setup_distributed(self) -> None:
        super().setup_distributed()  # ends with every rank reseeded to PL_GLOBAL_SEED
        seed = os.environ.get("PL_GLOBAL_SEED")
        if self.seed_per_rank and seed is not None:
            seed_this_rank(int(seed), self.global_rank)

    def on_train_end(self) -> None:
        """DDP broadcasts rank 0's buffers at every forward; the updates made after the last one
        (batch-norm statistics of the last step) differ per rank. Align them once more, so that
        whatever runs after training on every rank (evaluation, sampling) uses the same model
        as the checkpoint."""
        super().on_train_end()
        if self.sync_buffers_at_end:
            broadcast_buffers(self.lightning_module)

    def configure_ddp(self) -> None:
        if self.find_unused_parameters == "auto":
            manual = not self.lightning_module.automatic_optimization
            self._ddp_kwargs["find_unused_parameters"] = manual
        else:
            self._ddp_kwargs["find_unused_parameters"] = self.find_unused_parameters
        super().configure_ddp()
