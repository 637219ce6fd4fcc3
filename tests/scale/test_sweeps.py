"""Sweeps as real processes: a grid multirun and an Optuna study (resume, failed trials), each
ending with a summary in the sweep dir; the configs behind `make sweep` and the searches."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from cnngan.sweeps.markdown import summary_markdown
from cnngan.sweeps.summary import summarize, summary_kwargs
from tests.conftest import REPO_ROOT, compose_config
from tests.scale.conftest import FEW_BATCHES, TINY, clean_env, run_train, train_command


@pytest.mark.slow
def test_grid_multirun_writes_jobs_and_summary(wandb_grid_sweep: Path) -> None:
    sweep = wandb_grid_sweep
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1"]
    summary = json.loads((sweep / "summary.json").read_text())
    assert summary["n_jobs"] == 2 and summary["counts"] == {"COMPLETED": 2}
    assert summary["metric"] == "val/acc_best" and summary["direction"] == "maximize"
    pools = {job["params"]["model.net.pool"] for job in summary["jobs"]}
    assert pools == {"max", "avg"}  # only the swept key is a parameter
    values = [job["objective"] for job in summary["jobs"]]
    assert summary["best"]["value"] == max(values)
    for job in summary["jobs"]:
        metrics = json.loads((sweep / job["dir"] / "metrics.json").read_text())
        assert job["objective"] == pytest.approx(metrics["val/acc_best"])
        assert "test/acc" in metrics  # the test phase ran in every job
    table = (sweep / "summary.md").read_text()
    assert (
        "| job | status | model.net.pool | val/acc_best |" in table
        and table.count("| completed |") == 2
    )


def test_summary_of_an_interrupted_sweep(tmp_path: Path) -> None:
    """A job folder without job.json (killed) is INTERRUPTED; the best ignores failed jobs."""
    for num, record in enumerate(
        [
            {"status": "COMPLETED", "objective": 0.5, "overrides": ["lr=1", "data=digits"]},
            {"status": "FAILED", "error": "TrialFailed: nan", "overrides": ["lr=2", "data=digits"]},
            None,
        ]
    ):
        (tmp_path / str(num)).mkdir()
        if record:
            (tmp_path / str(num) / "job.json").write_text(
                json.dumps({"num": num, "metric": "val/loss", **record})
            )
        else:
            (tmp_path / str(num) / ".hydra").mkdir()
            (tmp_path / str(num) / ".hydra" / "overrides.yaml").write_text(
                "- lr=3\n- data=digits\n"
            )
    summary = summarize(tmp_path, direction="minimize")
    assert summary["direction"] == "minimize"
    assert [j["status"] for j in summary["jobs"]] == ["COMPLETED", "FAILED", "INTERRUPTED"]
    assert [j["params"] for j in summary["jobs"]] == [{"lr": "1"}, {"lr": "2"}, {"lr": "3"}]
    assert summary["best"]["num"] == 0


def _grid_jobs(root: Path, values: list[float]) -> Path:
    for num, value in enumerate(values):
        record = {"num": num, "status": "COMPLETED", "metric": "val/loss", "objective": value}
        (root / str(num)).mkdir()
        (root / str(num) / "job.json").write_text(json.dumps({**record, "overrides": [f"x={num}"]}))
    return root


def test_the_direction_comes_from_config_not_from_the_metric_name(tmp_path: Path) -> None:
    sweep = _grid_jobs(tmp_path, [0.2, 0.9, 0.5])
    # a metric called "loss" maximized because the config says so
    assert summarize(sweep, direction="maximize")["best"]["num"] == 1
    assert summarize(sweep, direction="minimize")["best"]["num"] == 0
    unset = summarize(sweep)  # no direction: no best job is named, nothing is guessed
    assert unset["direction"] is None and unset["best"] is None
    assert "no optimized_direction" in summary_markdown(unset)

    cfg = compose_config(
        "train",
        [
            "hparams_search=classifier_optuna",
            "optimized_metric=val/loss",
            "optimized_direction=minimize",
        ],
        tmp_path / "cfg",
    )
    assert cfg.hydra.sweeper.direction == "minimize" and cfg.hydra.sweeper.metric == "val/loss"
    assert summary_kwargs(cfg)["direction"] == "minimize"
    grid = compose_config("train", ["hparams_search=classifier_grid"], tmp_path / "grid")
    assert summary_kwargs(grid)["direction"] == "maximize"  # conf/train.yaml: optimized_direction


def test_make_sweep_grid_and_optuna_configs_compose(tmp_path: Path) -> None:
    grid = compose_config("train", ["hparams_search=classifier_grid"], tmp_path)
    assert str(grid.hydra.mode) == "RunMode.MULTIRUN"
    assert dict(grid.hydra.sweeper.params) == {
        "model.optimizer.lr": "0.001,0.003",
        "model.net.pool": "max,avg",
    }
    study = compose_config("train", ["hparams_search=classifier_optuna"], tmp_path)
    sweeper = study.hydra.sweeper
    assert sweeper._target_.endswith("CnnganOptunaSweeper")
    assert sweeper.direction == "maximize" and study.optimized_metric == "val/acc_best"
    assert sweeper.storage == f"sqlite:///{study.hydra.sweep.dir}/optuna.db"
    assert (sweeper.sampler, sweeper.seed, sweeper.pruner) == ("tpe", study.seed, "none")
    assert set(sweeper.params) >= {"model.optimizer.lr", "model.net.pool"}
    # every trial gets the pruning callback; it idles until the sweeper names the job's trial
    assert study.callbacks.optuna_pruning.trial is None
    assert study.callbacks.optuna_pruning.monitor == "val/acc_best"


# A 2-trial study over a learning rate that trains (0.003) and one that diverges (NaN val/loss).
_STUDY_CONFIG = """\
# @package _global_
defaults:
  - override /hydra/sweeper: cnngan_optuna
optimized_metric: val/loss
optimized_direction: minimize
hydra:
  mode: MULTIRUN
  sweeper:
    n_trials: 2
    params:
      model.optimizer.lr: choice(0.003, 1e12)
"""


def seeded_sweep(
    tmp_path: Path, name: str, config: str, directions: list[str], trials: list[dict]
) -> tuple[list[str], Path, str]:
    """A test hparams_search config `name` and its study created with `trials` enqueued (so their
    order is fixed); returns (the cnngan-train arguments that use both, sweep dir, storage)."""
    import optuna

    conf = tmp_path / "conf" / "hparams_search"
    conf.mkdir(parents=True)
    (conf / f"{name}.yaml").write_text(config)
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    storage = f"sqlite:///{sweep}/optuna.db"
    study = optuna.create_study(study_name=name, storage=storage, directions=directions)
    for params in trials:
        study.enqueue_trial(params)
    args = [
        f"--config-dir={conf.parent}",
        f"hparams_search={name}",
        f"hydra.sweep.dir={sweep}",
        f"hydra.sweeper.study_name={name}",
    ]
    return args, sweep, storage


def trial_states(storage: str) -> dict[int, str]:
    """Trial number -> state (RUNNING, COMPLETE, FAIL, ...) as the study's SQLite file holds them
    now (read-only: the sweep writes it)."""
    database = storage.removeprefix("sqlite:///")
    if not Path(database).is_file():
        return {}
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
    try:
        return dict(connection.execute("SELECT number, state FROM trials").fetchall())
    except sqlite3.OperationalError:  # the sweep is creating its tables
        return {}
    finally:
        connection.close()


def _kill_when_trial_running(
    proc: subprocess.Popen, sweep: Path, storage: str, log: Path, timeout: float = 400
) -> None:
    """SIGKILL the sweep (a crash, a preempted node) once trial 0 has failed and trial 1 runs: the
    study holds trial 1 as RUNNING and its job has started (Hydra wrote its config) but not ended
    (no job.json). Waits for those states, not for a time."""
    deadline = time.monotonic() + timeout
    started = sweep / "1" / ".hydra" / "config.yaml"
    while time.monotonic() < deadline and proc.poll() is None:
        if started.is_file() and trial_states(storage) == {0: "FAIL", 1: "RUNNING"}:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            assert not (sweep / "1" / "job.json").exists(), "trial 1 ended before the kill"
            return
        time.sleep(0.1)
    raise AssertionError(f"trial 1 never ran (rc={proc.poll()}):\n{log.read_text()[-4000:]}")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_optuna_study_survives_failed_trial_and_resumes_after_kill(tmp_path: Path) -> None:
    import optuna

    # fix the order: trial 0 diverges, trial 1 trains (and is killed, then re-run)
    lrs = [{"model.optimizer.lr": 1e12}, {"model.optimizer.lr": 0.003}]
    args, sweep, storage = seeded_sweep(tmp_path, "scale_test", _STUDY_CONFIG, ["minimize"], lrs)
    args += [*TINY, *FEW_BATCHES]

    with open(tmp_path / "first.log", "w") as out:
        first = subprocess.Popen(
            train_command([*args, f"paths.log_dir={tmp_path / 'logs'}"]),
            cwd=REPO_ROOT,
            env=clean_env(tmp_path / "home"),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _kill_when_trial_running(first, sweep, storage, tmp_path / "first.log")

    before = optuna.load_study(study_name="scale_test", storage=storage).trials
    assert [t.state.name for t in before] == ["FAIL", "RUNNING"]  # the failure did not stop it
    job0 = json.loads((sweep / "0" / "job.json").read_text())
    assert job0["status"] == "FAILED" and "TrialFailed" in job0["error"]  # NaN objective

    run_train(args, tmp_path)  # the same command again: resumes

    trials = optuna.load_study(study_name="scale_test", storage=storage).trials
    assert len(trials) == 3  # 0 kept, 1 interrupted, 2 = trial 1 again; not 2 more trials
    assert [t.state.name for t in trials] == ["FAIL", "FAIL", "COMPLETE"]
    assert trials[1].user_attrs.get("interrupted") and not trials[0].user_attrs.get("interrupted")
    assert trials[2].params == trials[1].params == {"model.optimizer.lr": 0.003}
    # job folder N holds trial N: folder 0 was not overwritten by the resumed sweep
    assert json.loads((sweep / "0" / "job.json").read_text()) == job0
    assert json.loads((sweep / "2" / "job.json").read_text())["objective"] == trials[2].value

    summary = json.loads((sweep / "summary.json").read_text())
    assert summary["best"]["params"]["model.optimizer.lr"] == 0.003
    assert summary["counts"] == {"COMPLETED": 1, "FAILED": 2}
    assert (sweep / "summary.md").read_text().count("| failed |") == 2


@pytest.mark.parametrize("experiment", ["gan_dcgan", "gan_seed"])
def test_gan_optuna_minimizes_the_fid_callback_metric(experiment: str, tmp_path: Path) -> None:
    import hydra
    import lightning as L

    cfg = compose_config(
        "train", [f"experiment={experiment}", "hparams_search=gan_optuna"], tmp_path
    )
    assert cfg.optimized_metric == "val/fid" and cfg.optimized_direction == "minimize"
    assert cfg.hydra.sweeper.direction == "minimize"
    assert cfg.callbacks.gan_fid.prefix + "fid" == cfg.optimized_metric
    assert "sample_grid" in cfg.callbacks and "nan_guard" in cfg.callbacks  # the GAN callbacks stay
    assert isinstance(hydra.utils.instantiate(cfg.callbacks.gan_fid), L.Callback)  # the scorer
    assert cfg.callbacks.optuna_pruning.monitor == "val/fid"  # pruning watches the same score
    assert set(cfg.hydra.sweeper.params) >= {
        "model.g_optimizer.lr",
        "model.d_optimizer.lr",
        "model.loss",
    }


def test_joblib_launcher_option_composes(tmp_path: Path) -> None:
    cfg = compose_config("train", ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], tmp_path)
    assert cfg.hydra.launcher._target_.endswith("JoblibLauncher") and cfg.hydra.launcher.n_jobs == 2


def test_prepare_resume_settles_running_trials(tmp_path: Path) -> None:
    """A killed batch of two trials: trial 0 had ended (job.json), trial 1 had not."""
    import optuna

    from cnngan.sweeps.resume import prepare_resume

    study = optuna.create_study(
        storage=f"sqlite:///{tmp_path}/db.sqlite", study_name="s", direction="maximize"
    )
    done = study.ask({"lr": optuna.distributions.FloatDistribution(0, 1)})
    study.tell(done, 0.5)
    ended, cut = (study.ask({"lr": optuna.distributions.FloatDistribution(0, 1)}) for _ in range(2))
    (tmp_path / str(ended.number)).mkdir()
    (tmp_path / str(ended.number) / "job.json").write_text(
        json.dumps({"status": "COMPLETED", "objective": 0.7})
    )
    (tmp_path / str(cut.number)).mkdir()  # started, never finished

    to_run = prepare_resume(study, n_trials=5, sweep_dir=tmp_path)

    trials = study.get_trials()
    assert trials[ended.number].state.name == "COMPLETE" and trials[ended.number].value == 0.7
    assert trials[cut.number].state.name == "FAIL" and trials[cut.number].user_attrs["interrupted"]
    assert (
        trials[3].state.name == "WAITING" and trials[3].system_attrs["fixed_params"] == cut.params
    )
    assert to_run == 3  # 2 finished of 5
    assert study.ask().number == 3  # the re-run comes first, as trial (and job folder) 3
