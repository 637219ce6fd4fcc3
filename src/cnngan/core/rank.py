"""Which process speaks: global rank 0 of a DDP run, or the only process of a plain run.

No Lightning here: the rank comes from torch.distributed once a process group exists, and from
the launcher's environment before (cnngan's child ranks, torchrun workers, SLURM tasks).
"""

from __future__ import annotations

import logging
import os

import torch.distributed as dist


def is_rank_zero_process() -> bool:
    """True unless this process is a non-zero DDP rank. Works before any trainer exists."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    for var in ("RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        if os.environ.get(var) is not None:
            return int(os.environ[var]) == 0
    return int(os.environ.get("LOCAL_RANK", 0)) == 0 and int(os.environ.get("NODE_RANK", 0)) == 0


class RankZeroLogger(logging.LoggerAdapter):
    """A logger that only speaks on global rank 0 (DDP runs otherwise print everything N times)."""

    def log(self, level: int, msg: str, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        if is_rank_zero_process():
            self.logger.log(level, msg, *args, **kwargs)


log = RankZeroLogger(logging.getLogger("cnngan"), {})
