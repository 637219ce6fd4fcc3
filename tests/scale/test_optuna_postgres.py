"""A search shared by many jobs: a job's heartbeat, the stale check and reruns (on SQLite and on a
real PostgreSQL server started for the session by scripts/postgres_local.py), then Optuna trials
as SLURM jobs, two at a time, on one study in that server, chosen by
`hydra.sweeper.storage=postgresql://...` (marked slurm):

Three trials enqueued in a fixed order, the other parameters fixed on the command line:
- trial 0 learns slowly (lr 0.001) for 1 epoch and completes;
- trial 1 learns fast (lr 0.01) for 30 epochs; its job is cancelled (`scancel`) once trial 0 has
  completed. The local cluster has no accounting, so the launcher cannot see the job end: the
  trial's heartbeat goes stale, the sweeper fails it and reruns its parameters as trial 3;
- trial 2 cannot learn (lr 1e-9); it starts when trial 0's slot frees, so the median pruner
  compares its first epoch with trial 0's, reported by another job, and prunes it.
At the end the study and the sweep folder agree: one job folder per trial, job.json states equal
to the trials' states, the interrupted trial replaced by exactly one rerun, 3 trials counted.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from datetime import datetime
from pathlib import Path

import optuna
import pytest
import sqlalchemy

from cnngan.core.errors import UserError
from cnngan.sweeps.heartbeat import start_heartbeat
from cnngan.sweeps.outcomes import frozen_trial
from cnngan.sweeps.reruns import interrupt, replaced, trials_used
from cnngan.sweeps.resume import fail_stale
from cnngan.sweeps.study import StudySettings, open_study
from tests.conftest import REPO_ROOT
from tests.scale.slurm_jobs import (
    final_job,
    job_id_of,
    multirun_command,
    scancel,
    scontrol_job,
    slurm_env,
)

_CONFIG = """\
# @package _global_
defaults:
  - classifier_optuna
hydra:
  sweeper:
    params:
      model.optimizer.lr: choice(0.001, 0.01, 1e-9)
      trainer.max_epochs: choice(1, 3, 30)
"""
TRIALS = [
    {"model.optimizer.lr": 0.001, "trainer.max_epochs": 1},
    {"model.optimizer.lr": 0.01, "trainer.max_epochs": 30},
    {"model.optimizer.lr": 1e-9, "trainer.max_epochs": 3},
]
FIXED = [
    "data=digits",
    "data.batch_size=64",
    "model.optimizer.weight_decay=0.0",
    "model.net.dropout=0.0",
    "model.net.pool=max",
    "+trainer.limit_train_batches=10",
    "+trainer.limit_val_batches=1",
    "+trainer.limit_test_batches=1",
]
_OPTIONS = {
    "metric": "val/acc_best",
    "direction": "maximize",
    "storage": None,
    "study_name": "heartbeat_test",
    "heartbeat_s": 1,
    "grace_s": 3,
}
_STATE_OF_STATUS = {"COMPLETED": "COMPLETE", "PRUNED": "PRUNED", "FAILED": "FAIL"}


def _seeded_study(url: str, tmp_path: Path) -> tuple[str, list[str]]:
    """A fresh study with TRIALS enqueued and the search config `pg_search`; (the study's name,
    the --config-dir option that finds the config)."""
    name = f"pg_{uuid.uuid4().hex[:8]}"
    study = optuna.create_study(study_name=name, storage=url, direction="maximize")
    for params in TRIALS:
        study.enqueue_trial(params)
    conf = tmp_path / "conf" / "hparams_search"
    conf.mkdir(parents=True)
    (conf / "pg_search.yaml").write_text(_CONFIG)
    return name, [f"--config-dir={conf.parent}"]


def _has_heartbeat(url: str, study_name: str, number: int) -> bool:
    query = sqlalchemy.text(
        "SELECT count(*) FROM trial_heartbeats h JOIN trials t ON t.trial_id = h.trial_id "
        "JOIN studies s ON s.study_id = t.study_id WHERE s.study_name = :s AND t.number = :n"
    )
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as db:
            return bool(db.execute(query, {"s": study_name, "n": number}).scalar())
    finally:
        engine.dispose()


def _wait(condition, proc: subprocess.Popen, log: Path, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"the multirun ended before {what}:\n{log.read_text()[-6000:]}"
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.2)


def _job(sweep: Path, number: int) -> dict:
    path = sweep / str(number) / "job.json"
    return json.loads(path.read_text()) if path.exists() else {}


def assert_study_matches_sweep(study: optuna.Study, sweep: Path, n_trials: int) -> None:
    """One job folder per trial and one trial per job folder; each finished job's status is its
    trial's state; each trial whose job ended without one (FAIL) has exactly one rerun with its
    parameters, and the trials not replaced by a rerun are the study's budget."""
    trials = [t for t in study.get_trials() if t.state.name != "WAITING"]
    folders = sorted(int(p.name) for p in sweep.iterdir() if p.is_dir() and p.name.isdigit())
    assert folders == [t.number for t in trials]
    for trial in trials:
        job = _job(sweep, trial.number)
        if job:
            assert _STATE_OF_STATUS[job["status"]] == trial.state.name, (trial.number, job)
            continue
        assert trial.state.name == "FAIL", trial
        reruns = [t for t in trials if t.user_attrs.get("rerun_of") == trial.number]
        assert len(reruns) == 1 and reruns[0].params == trial.params
    assert len(trials) - len(replaced(trials)) == n_trials
    summary = json.loads((sweep / "summary.json").read_text())
    assert [j["num"] for j in summary["jobs"]] == [t.number for t in trials]


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/optuna.db"
    return request.getfixturevalue("postgres_url")


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used")
def test_a_silent_job_fails_its_trial_and_its_parameters_run_again(storage_url: str) -> None:
    """A job's heartbeat keeps its trial RUNNING; once it stops beating for the grace period, the
    stale check fails the trial and enqueues a rerun that replaces it in the budget."""
    name = f"heartbeat_{uuid.uuid4().hex[:8]}"
    settings = StudySettings.from_options(_OPTIONS | {"storage": storage_url, "study_name": name})
    space = {"lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)}
    study = open_study(settings, space)
    done = study.ask(space)
    study.tell(done, 0.5)
    trial = study.ask(space)
    beat = start_heartbeat(
        {"storage": storage_url, "study_name": settings.study_name, "number": trial.number}
        | {"heartbeat_s": 1}
    )
    time.sleep(4.5)  # longer than the grace period, but the job beats
    fail_stale(study)
    assert beat.beats >= 3 and _state(study, trial.number) == "RUNNING"
    beat.stop()
    time.sleep(4.5)
    fail_stale(study)
    assert _state(study, trial.number) == "FAIL"
    trials = study.get_trials()
    assert trials[-1].state.name == "WAITING" and trials[-1].user_attrs["rerun_of"] == trial.number
    assert trials_used(study) == 1  # the failed attempt no longer counts, its rerun will
    rerun = study.ask(space)
    assert rerun.params == trial.params and rerun.number == trials[-1].number


def test_reruns_stop_after_max_retry(tmp_path: Path) -> None:
    """interrupt(): FAIL + rerun while the series has attempts left; then FAIL that counts."""
    study = optuna.create_study(storage=f"sqlite:///{tmp_path}/db.sqlite", study_name="r")
    space = {"x": optuna.distributions.FloatDistribution(0, 1)}
    for _ in range(3):  # the first attempt and two reruns
        trial = study.ask(space)
        interrupt(study, frozen_trial(study, trial.number), "killed", max_retry=2)
    trials = study.get_trials()
    assert [t.state.name for t in trials] == ["FAIL", "FAIL", "FAIL"]
    assert [t.user_attrs.get("attempt", 1) for t in trials] == [1, 2, 3]
    assert {t.params["x"] for t in trials} == {trials[0].params["x"]}
    assert [t.user_attrs.get("interrupted", False) for t in trials] == [True, True, False]
    assert replaced(trials) == {0, 1} and trials_used(study) == 1


def test_heartbeat_settings_are_checked() -> None:
    settings = StudySettings.from_options(_OPTIONS)
    assert (settings.heartbeat_s, settings.grace_s, settings.max_retry) == (1, 3, 3)
    off = StudySettings.from_options(_OPTIONS | {"heartbeat_s": None})
    assert off.heartbeat_s is None and off.grace_s is None
    with pytest.raises(UserError, match="grace_s=1 must exceed heartbeat_s=1"):
        StudySettings.from_options(_OPTIONS | {"grace_s": 1})
    with pytest.raises(UserError, match="heartbeat_s=0 must be a whole number"):
        StudySettings.from_options(_OPTIONS | {"heartbeat_s": 0})
    with pytest.raises(UserError, match="max_retry=-1"):
        StudySettings.from_options(_OPTIONS | {"max_retry": -1})


def _state(study: optuna.Study, number: int) -> str:
    return frozen_trial(study, number).state.name


def _node_list(job_id: str, slurm_conf: Path) -> str:
    return scontrol_job(job_id, slurm_conf)["NodeList"]


def _start_end(job_id: str, slurm_conf: Path) -> tuple[datetime, datetime]:
    job = final_job(job_id, slurm_conf)
    return datetime.fromisoformat(job["StartTime"]), datetime.fromisoformat(job["EndTime"])


@pytest.mark.slurm
@pytest.mark.slow
def test_parallel_trials_share_a_postgres_study_and_survive_a_cancelled_job(
    slurm_cluster: Path, postgres_url: str, tmp_path: Path
) -> None:
    name, config_dir = _seeded_study(postgres_url, tmp_path)
    sweep = tmp_path / "sweep"
    args = [
        "hparams_search=pg_search",
        *FIXED,
        f"hydra.sweep.dir={sweep}",
        f"hydra.sweeper.storage={postgres_url}",
        f"hydra.sweeper.study_name={name}",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.heartbeat_s=2",
        "hydra.sweeper.grace_s=15",
        "hydra.sweeper.pruner=median",
        "hydra.sweeper.pruner_args={n_startup_trials:1,n_warmup_steps:0}",
    ]
    log_file = tmp_path / "multirun.log"
    with log_file.open("w") as out:
        command = multirun_command(args, tmp_path)
        proc = subprocess.Popen(
            [command[0], *config_dir, *command[1:]],  # options before the overrides
            cwd=REPO_ROOT,
            env=slurm_env(slurm_cluster, tmp_path),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait(lambda: _job(sweep, 0).get("status"), proc, log_file, 600, "end of trial 0")
        assert not _job(sweep, 1), "trial 1 (30 epochs) ended before trial 0 (1 epoch)"
        _wait(
            lambda: _has_heartbeat(postgres_url, name, 1),
            proc,
            log_file,
            120,
            "heartbeat of trial 1",
        )
        job_ids = {n: job_id_of(sweep / str(n)) for n in (0, 1)}
        nodes = {n: _node_list(job_id, slurm_cluster) for n, job_id in job_ids.items()}
        scancel(job_ids[1], slurm_conf=slurm_cluster)
        proc.wait(timeout=900)
    finally:
        proc.kill()
    output = log_file.read_text()
    assert proc.returncode == 0, f"cnngan-train -m failed ({proc.returncode}):\n{output[-6000:]}"
    print(f"\ntrial 0 ran on {nodes[0]}, trial 1 on {nodes[1]}")

    study = optuna.load_study(study_name=name, storage=postgres_url)
    trials = study.get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL", "PRUNED", "COMPLETE"]
    # side by side in SLURM's own record (whole seconds): trial 1's job started before trial 0's
    # ended. Not a job folder's timestamps: trial 0 trains for about 2 s, within the spread of
    # the two jobs' Python start-up on a loaded 2-core machine.
    times = {n: _start_end(job_id, slurm_cluster) for n, job_id in job_ids.items()}
    assert times[1][0] < times[0][1], f"trials 0 and 1 did not run side by side: {times}"
    # trial 1: cancelled, failed by its stale heartbeat, rerun as trial 3 with its parameters
    assert trials[3].params == trials[1].params and trials[3].user_attrs["rerun_of"] == 1
    assert "- job 3 reran job 1's parameters" in (sweep / "summary.md").read_text()
    assert "trial 1: its job sent no heartbeat for 15 s" in output
    # trial 2: pruned after its first epoch, against trial 0's report from another job
    assert list(trials[2].intermediate_values) == [1]
    assert trials[2].intermediate_values[1] < trials[0].intermediate_values[1]
    assert _job(sweep, 2)["status"] == "PRUNED"
    assert_study_matches_sweep(study, sweep, n_trials=3)
    summary = json.loads((sweep / "summary.json").read_text())
    assert summary["best"]["num"] == 3 and summary["best"]["value"] == pytest.approx(
        trials[3].value
    )
