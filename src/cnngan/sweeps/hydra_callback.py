"""The Hydra callbacks of every multirun (conf/hydra/default.yaml): `SweepSummary` writes `job.json`
per job when the job ends (rank 0 only) and summary.json + summary.md in the sweep dir at the end;
`TrialHeartbeat` keeps an Optuna trial's heartbeat while its job runs."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from cnngan.core.rank import is_rank_zero_process
from cnngan.sweeps.heartbeat import HeartbeatThread, start_heartbeat
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


class TrialHeartbeat(Callback):
    """While a job of cnngan's Optuna sweeper runs, its rank-0 process records the trial's
    heartbeat (`optuna_trial.heartbeat_s`, see cnngan.sweeps.heartbeat); nothing outside a sweep."""

    def __init__(self) -> None:
        self._thread: HeartbeatThread | None = None

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not is_rank_zero_process():
            return
        try:
            self._thread = start_heartbeat(config.get("optuna_trial"))
        except Exception as err:  # the sweeper notices a job without heartbeat by its launcher
            log.warning("could not start the trial's heartbeat: %s", err)

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        if self._thread is not None:
            self._thread.stop()
            self._thread = None
