"""cnngan's DDPStrategy: Lightning's, with the Hydra-aware launcher, per-rank seeds, buffers
aligned at the end of training and `find_unused_parameters="auto"` (see
`cnngan.distributed.lifecycle` for why)."""

from __future__ import annotations

import os
import random
import signal
from typing import Any, Literal

import numpy as np
import torch
from lightning.pytorch.strategies import DDPStrategy as LightningDDPStrategy

from cnngan.distributed.launcher import HydraSubprocessLauncher
from cnngan.distributed.lightning_private import CustomLauncherHook, LauncherBase, set_ddp_argument


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


class DDPStrategy(CustomLauncherHook, LightningDDPStrategy):
    """Lightning's DDPStrategy, safe under Hydra multiruns (see `cnngan.distributed.lifecycle`).

    Args:
        find_unused_parameters: True/False, or "auto": True for manual optimization (GANs),
            False otherwise (faster).
        seed_per_rank: reseed every rank with `seed + global_rank` after the process group is up,
            so ranks draw different noise/dropout/augmentation (Lightning seeds all ranks alike).
        sync_buffers_at_end: broadcast rank 0's buffers when training ends (see `on_train_end`).
        entry_module: module the extra ranks run (default: `cnngan.<config name>`).
        start_method: "popen" (cnngan's launcher) or Lightning's "spawn", "fork", "forkserver".
        **kwargs: Lightning's DDPStrategy arguments (`process_group_backend`, `timeout`, ...) and
            DistributedDataParallel's (`static_graph`, `gradient_as_bucket_view`, ...).
    """

    def __init__(
        self,
        *args: Any,
        find_unused_parameters: bool | str = "auto",
        seed_per_rank: bool = True,
        sync_buffers_at_end: bool = True,
        entry_module: str | None = None,
        start_method: Literal["popen", "spawn", "fork", "forkserver"] = "popen",
        **kwargs: Any,
    ) -> None:
        if find_unused_parameters not in (True, False, "auto"):
            raise ValueError(
                f"find_unused_parameters={find_unused_parameters!r}; use true, false or auto"
            )
        super().__init__(*args, start_method=start_method, **kwargs)
        self.find_unused_parameters = find_unused_parameters
        self.seed_per_rank = seed_per_rank
        self.sync_buffers_at_end = sync_buffers_at_end
        self.entry_module = entry_module
        self.start_method = start_method

    def make_launcher(self) -> LauncherBase | None:
        if self.start_method != "popen":
            return None  # Lightning's multiprocessing launcher
        assert self.cluster_environment is not None
        return HydraSubprocessLauncher(
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

    def configure_ddp(self) -> None:
        find_unused = self.find_unused_parameters
        if find_unused == "auto":
            find_unused = not self.lightning_module.automatic_optimization
        set_ddp_argument(self, "find_unused_parameters", find_unused)
        super().configure_ddp()

    def on_train_end(self) -> None:
        """DDP broadcasts rank 0's buffers at every forward; the updates made after the last one
        (batch-norm statistics of the last step) differ per rank. Align them once more, so that
        whatever runs after training on every rank (evaluation, sampling) uses the same model
        as the checkpoint."""
        super().on_train_end()
        if self.sync_buffers_at_end:
            broadcast_buffers(self.lightning_module)

    def on_exception(self, exception: BaseException) -> None:
        """Rank 0 failed: end the other ranks now rather than leave them waiting in a collective
        (Ctrl+C: SIGKILL, as Lightning does for its own launcher)."""
        super().on_exception(exception)
        launcher = self.launcher
        if isinstance(launcher, HydraSubprocessLauncher):
            if isinstance(exception, KeyboardInterrupt):
                launcher.kill(getattr(signal, "SIGKILL", signal.SIGTERM))
            else:
                launcher.stop_ranks()
