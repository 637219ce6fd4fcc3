"""A logger that only speaks on global rank 0 (DDP runs otherwise print everything N times)."""

from __future__ import annotations

import logging

from lightning.pytorch.utilities import rank_zero_only


class RankZeroLogger(logging.LoggerAdapter):
    def log(self, level: int, msg: str, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        if rank_zero_only.rank == 0:
            self.logger.log(level, msg, *args, **kwargs)


log = RankZeroLogger(logging.getLogger("cnngan"), {})
