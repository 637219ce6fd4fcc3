"""Starts the extra DDP ranks of a node as subprocesses and ends them cleanly with the job.

Like Lightning's script launcher, with three differences (see `cnngan.distributed.lifecycle`): the
rank's command replays the Hydra job (`ddp_command`), a dying rank terminates its siblings but not
the parent, and `finish()` waits for the ranks and restores the parent's environment so the next
job of a multirun starts clean. Built on Lightning's public ClusterEnvironment interface; the
launcher base class is Lightning's (private, see `lightning_private`).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from typing import Any

import torch
from lightning.fabric.plugins import ClusterEnvironment

from cnngan.distributed.command import child_command
from cnngan.distributed.lightning_private import LauncherBase

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

CommandFn = Callable[[int], tuple[Sequence[str], str | None]]


class RankObserver(threading.Thread):
    """Watches the rank processes; when one fails, terminates the others (not the parent:
    Lightning's observer SIGKILLs the parent, which would end a whole sweep)."""

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
            failed = {rank: code for rank, code in enumerate(codes, 1) if code not in (None, 0)}
            if failed:
                log.error("DDP rank(s) exited with code(s) %s; terminating the others", failed)
                terminate(self.procs)
                return


def terminate(procs: Sequence[subprocess.Popen], grace_s: float = 10.0) -> None:
    """SIGTERM every running process, SIGKILL those still running after `grace_s`."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def limit_threads(num_processes: int) -> None:
    """Share the CPUs between the local ranks unless OMP_NUM_THREADS says otherwise."""
    if "OMP_NUM_THREADS" in os.environ:
        return
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = max(1, (cpus or 1) // max(1, num_processes))
    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)


_active: list[HydraSubprocessLauncher] = []


class HydraSubprocessLauncher(LauncherBase):
    """Launches local ranks 1..N-1 as `command_fn(local_rank)` (default: `child_command`, the
    Hydra job replayed) and runs the Trainer's function as local rank 0 in this process."""

    def __init__(
        self,
        cluster_environment: ClusterEnvironment,
        num_processes: int,
        num_nodes: int,
        entry_module: str | None = None,
        command_fn: CommandFn | None = None,
    ) -> None:
        self.cluster_environment = cluster_environment
        self.num_processes = num_processes
        self.num_nodes = num_nodes
        self.command_fn = command_fn or (lambda rank: child_command(rank, entry_module))
        self.procs: list[subprocess.Popen] = []
        self._saved_env: dict[str, str | None] = {}
        self._saved_threads = torch.get_num_threads()
        self._observer: RankObserver | None = None

    @property
    def is_interactive_compatible(self) -> bool:
        return False  # it re-runs a command: nothing to re-run in a notebook

    def launch(self, function: Callable, *args: Any, trainer: Any = None, **kwargs: Any) -> Any:
        """Start the other ranks (once per job: afterwards LOCAL_RANK is set and the environment
        reports that processes are created externally), then call `function` as rank 0."""
        env = self.cluster_environment
        env.validate_settings(num_devices=self.num_processes, num_nodes=self.num_nodes)
        if not env.creates_processes_externally:
            self._saved_env = {var: os.environ.get(var) for var in DIST_ENV_VARS}
            self._saved_threads = torch.get_num_threads()
            self._start_ranks()
            self._observer = RankObserver(self.procs)
            self._observer.start()
            _active.append(self)
        limit_threads(self.num_processes)
        return function(*args, **kwargs)

    def kill(self, signum: int | signal.Signals) -> None:
        """Forward `signum` to the ranks (Lightning calls it on SIGTERM)."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signum)

    def stop_ranks(self, grace_s: float = 10.0) -> None:
        """Terminate the ranks still running (rank 0 failed: they would wait in a collective)."""
        terminate(self.procs, grace_s)

    def _start_ranks(self) -> None:
        env = self.cluster_environment
        if self.procs:
            raise RuntimeError("this launcher has started its ranks already")
        if env.local_rank() != 0:
            raise RuntimeError(f"only local rank 0 starts ranks; this is {env.local_rank()}")
        os.environ["MASTER_ADDR"] = env.main_address
        os.environ["MASTER_PORT"] = str(env.main_port)
        os.environ["NODE_RANK"] = str(env.node_rank())
        os.environ["LOCAL_RANK"] = "0"
        os.environ["WORLD_SIZE"] = str(self.num_processes * self.num_nodes)
        for local_rank in range(1, self.num_processes):
            command, cwd = self.command_fn(local_rank)
            log.debug("starting rank %d: %s", local_rank, " ".join(command))
            child_env = {**os.environ, "LOCAL_RANK": str(local_rank)}
            self.procs.append(subprocess.Popen(list(command), env=child_env, cwd=cwd))

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
                    "DDP rank %d still running %.0f s after rank 0; killing it", rank, timeout_s
                )
                terminate([proc], grace_s=5.0)
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


def finish_launchers() -> None:
    """Finish every launcher this process started (see `HydraSubprocessLauncher.finish`)."""
    while _active:
        codes = _active.pop().finish()
        failed = {rank: code for rank, code in enumerate(codes, start=1) if code != 0}
        if failed:
            log.error("DDP ranks exited with non-zero codes %s; see their output above", failed)
