"""The Hydra callback behind every multirun's records (conf/hydra/default.yaml): `job.json` per
job when the job ends (rank 0 only), summary.json + summary.md in the sweep dir at the end."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from cnngan.core.rank import is_rank_zero_process
from cnngan.sweeps.records import JOB_FILE, write_job_record
from cnngan.sweeps.summary import SUMMARY_MD, summary_kwargs, write_summary

log = logging.getLogger(__name__)


def _in_multirun(config: DictConfig) -> bool:
    from hydra.types import RunMode

    return config.hydra.mode == RunMode.MULTIRUN


class SweepSummary(Callback):
    """job.json per job (with its start and end time), the sweep summary at the end."""

    def __init__(self) -> None:
        self._started: float | None = None

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._started = time.time()

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        if not _in_multirun(config) or not is_rank_zero_process():
            return
        try:
            write_job_record(config, job_return, started=self._started, ended=time.time())
        except Exception as err:  # never let bookkeeping fail a job
            log.warning("could not write %s: %s", JOB_FILE, err)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.is_dir():
            return
        summary = write_summary(sweep_dir, **summary_kwargs(config))
        log.info("Sweep summary: %s", sweep_dir / SUMMARY_MD)
        if summary["best"]:
            log.info(
                "  best %s = %s with %s",
                summary["metric"],
                summary["best"]["value"],
                summary["best"]["params"],
            )
