"""Trials as independent jobs, `n_jobs` at a time, for launchers that submit jobs to a scheduler
(hydra-submitit-launcher: `hydra/launcher=slurm`).

Each trial is launched alone, from a thread of its own, so one job that dies or waits in the queue
holds up no other, and a slot is refilled as soon as its trial ends (a pruned trial frees its slot
at once). The sweep's thread does all the talking to the study (ask, tell, stale checks); a launch
thread only waits for its job. Every `heartbeat_s` the study's stale trials are failed and rerun
(`fail_stale_trials`): a job killed without a trace (`scancel`, a lost node; a cluster without
accounting, where the launcher cannot see a job end) frees its slot after `grace_s`. Its launch
thread is then left waiting (a daemon thread: it does not keep the sweep from ending).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from cnngan.sweeps.outcomes import record_launch
from cnngan.sweeps.resume import fail_stale
from cnngan.sweeps.settings import StudySettings

log = logging.getLogger(__name__)


def submits_jobs(launcher: Any) -> bool:
    """Whether the launcher hands jobs to a scheduler (submitit) rather than running them here
    (checked by class name: the sweeps package does not import Hydra's plugins)."""
    return any(cls.__name__ == "BaseSubmititLauncher" for cls in type(launcher).__mro__)


@dataclass
class Slot:
    """One trial's launch, waited for in its own thread; `result` is a JobReturn or the
    exception the launch raised."""

    trial: optuna.Trial
    thread: threading.Thread | None = None
    result: Any = None
    started: float = field(default_factory=time.monotonic)

    @property
    def done(self) -> bool:
        return self.thread is not None and not self.thread.is_alive()


def launch_in_thread(launcher: Any, overrides: Sequence[str], trial: optuna.Trial) -> Slot:
    """Launch one job (job folder = the trial's number) and wait for it in a daemon thread."""
    slot = Slot(trial)

    def wait() -> None:
        try:
            slot.result = launcher.launch([list(overrides)], initial_job_idx=trial.number)[0]
        except BaseException as err:  # the job died, was cancelled, or was lost
            slot.result = err

    slot.thread = threading.Thread(target=wait, daemon=True, name=f"cnngan-trial-{trial.number}")
    slot.thread.start()
    return slot


def _gone(study: optuna.Study, running: dict[int, Slot]) -> list[int]:
    """Numbers of our running trials that are no longer RUNNING in the study (failed as stale)."""
    alive = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
    return [n for n in running if n not in alive]


def run_in_slots(
    study: optuna.Study,
    settings: StudySettings,
    sweep_dir: Path,
    next_trial: Callable[[], optuna.Trial | None],
    launch: Callable[[optuna.Trial], Slot],
    poll_s: float = 1.0,
) -> None:
    """Keep up to `n_jobs` trials running until `next_trial` has none left and all have ended."""
    running: dict[int, Slot] = {}
    checked = time.monotonic()
    while True:
        for number, slot in list(running.items()):
            if slot.done:
                del running[number]
                state = record_launch(study, slot.trial, slot.result, sweep_dir, settings.max_retry)
                log.info("trial %d: %s (%.0f s)", number, state, time.monotonic() - slot.started)
        if settings.heartbeat_s and time.monotonic() - checked >= settings.heartbeat_s:
            checked = time.monotonic()
            fail_stale(study)
            for number in _gone(study, running):
                log.warning(
                    "trial %d: its job sent no heartbeat for %d s; the trial failed and its "
                    "parameters run again",
                    number,
                    settings.grace_s,
                )
                del running[number]
        while len(running) < settings.n_jobs and (trial := next_trial()) is not None:
            running[trial.number] = launch(trial)
        if not running:
            return
        time.sleep(poll_s)
