"""W&B: offline without credentials, online for a logged-in user (no code or config change); an
offline run read back from its files holds the config, the metrics and the images; a multirun
gives one finished run per job, grouped by sweep."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cnngan.run.loggers import resolve_wandb_mode, wandb_has_credentials
from tests.scale.conftest import wandb_offline_runs, wandb_records


def test_wandb_mode_follows_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("WANDB_API_KEY", "WANDB_MODE", "NETRC"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert not wandb_has_credentials() and resolve_wandb_mode("auto") == "offline"
    (tmp_path / ".netrc").write_text("machine api.wandb.ai\n  login user\n  password abc\n")
    (tmp_path / ".netrc").chmod(0o600)
    assert wandb_has_credentials() and resolve_wandb_mode("auto") == "online"  # after `wandb login`
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert resolve_wandb_mode("auto") == "offline"  # the user's explicit choice wins
    assert resolve_wandb_mode("disabled") == "disabled"
    with pytest.raises(ValueError, match="auto, online, offline or disabled"):
        resolve_wandb_mode("cloud")


@pytest.mark.slow
def test_multirun_makes_one_finished_run_per_job_in_one_group(wandb_grid_sweep: Path) -> None:
    runs = {job: wandb_offline_runs(wandb_grid_sweep / job) for job in ("0", "1")}
    assert all(len(found) == 1 for found in runs.values()), runs
    infos = {}
    for job, (run,) in runs.items():
        records = wandb_records(run)
        (info,) = [r["run"] for r in records if r["type"] == "run"]
        (exit_record,) = [r["exit"] for r in records if r["type"] == "exit"]
        assert exit_record.get("exit_code", 0) == 0  # finished cleanly
        infos[job] = info
    assert infos["0"]["run_id"] != infos["1"]["run_id"]
    assert infos["0"]["run_group"] == infos["1"]["run_group"] == f"train-{wandb_grid_sweep.name}"
    assert (
        infos["0"]["display_name"].startswith("0-")
        and "model.net.pool=max" in infos["0"]["display_name"]
    )
    assert (
        infos["1"]["display_name"].startswith("1-")
        and "model.net.pool=avg" in infos["1"]["display_name"]
    )
    assert set(infos["0"]["tags"]) == {"scale_test", "digits"} and infos["0"]["job_type"] == "train"


@pytest.mark.slow
def test_offline_run_holds_config_metrics_and_images(wandb_grid_sweep: Path) -> None:
    (run,) = wandb_offline_runs(wandb_grid_sweep / "0")
    records = wandb_records(run)

    config = {}
    for record in records:
        if record["type"] == "config":
            config.update(record["config"].get("update", {}))
    assert config["model"]["net"]["pool"] == "max" and config["data"]["name"] == "digits"
    assert config["trainer"]["max_epochs"] == 1  # the full resolved config
    assert "model.net.pool=max" in config["overrides"]

    history = {}
    for record in records:
        if record["type"] == "history":
            history.update(record["history"]["item"])
    assert {
        "val/acc",
        "val/acc_best",
        "train/loss",
        "test/acc",
        "trainer/global_step",
    } <= history.keys()
    assert history["test/confusion_matrix._type"] == "images/separated"
    (image,) = history["test/confusion_matrix.filenames"]
    assert (run / "files" / image).stat().st_size > 1000  # the PNG is in the run's files

    dry_run = subprocess.run(
        [str(Path(sys.executable).parent / "wandb"), "sync", "--dry-run", str(run)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dry_run.returncode == 0 and "Would sync 1 run(s)" in dry_run.stdout + dry_run.stderr
