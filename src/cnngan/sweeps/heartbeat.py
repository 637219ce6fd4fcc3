"""A job's heartbeat: while a sweep's job runs, it records every `interval_s` seconds in the study
that its trial is alive (Optuna's trial heartbeat table, `RDBStorage.record_heartbeat`).

The sweeper fails a RUNNING trial whose heartbeat is older than its grace period and reruns its
parameters (`cnngan.sweeps.reruns`): that is how a job killed without a word (SIGKILL, `scancel`,
a lost node, a launcher that cannot see the job end) is noticed. Started by the Hydra callback
`TrialHeartbeat` (cnngan.sweeps.hydra_callback) on the rank-0 process of each job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)


def _connect(storage_url: str, study_name: str, number: int) -> tuple[Any, int]:
    """(the study's RDB storage, the trial's id)."""
    import optuna

    storage = optuna.storages.RDBStorage(storage_url)
    study_id = storage.get_study_id_from_name(study_name)
    return storage, int(storage.get_trial_id_from_study_id_trial_number(study_id, number))


class HeartbeatThread(threading.Thread):
    """Records the heartbeat of one trial until `stop()`; a failed write is retried next beat
    (a database that is briefly away must not end the job)."""

    def __init__(self, storage_url: str, study_name: str, number: int, interval_s: float) -> None:
        super().__init__(daemon=True, name=f"cnngan-heartbeat-{number}")
        self.storage_url = storage_url
        self.study_name = study_name
        self.number = int(number)
        self.interval_s = float(interval_s)
        self._stop_event = threading.Event()
        self.beats = 0

    def run(self) -> None:
        storage: Any = None
        trial_id: int | None = None
        warned = False
        while True:
            try:
                if trial_id is None:
                    storage, trial_id = _connect(self.storage_url, self.study_name, self.number)
                storage.record_heartbeat(trial_id)
                self.beats += 1
            except Exception as err:  # the next beat tries again
                if not warned:
                    log.warning("trial %d: heartbeat not recorded (%s)", self.number, err)
                    warned = True
            if self._stop_event.wait(self.interval_s):
                break
        if storage is not None:
            storage.engine.dispose()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout)


def start_heartbeat(trial_ref: Mapping[str, Any] | None) -> HeartbeatThread | None:
    """Start the heartbeat of the trial a job's `optuna_trial` names (None when the sweep set no
    `heartbeat_s`, or outside a sweep)."""
    if not trial_ref or not trial_ref.get("heartbeat_s"):
        return None
    thread = HeartbeatThread(
        str(trial_ref["storage"]),
        str(trial_ref["study_name"]),
        int(trial_ref["number"]),
        float(trial_ref["heartbeat_s"]),
    )
    thread.start()
    return thread
