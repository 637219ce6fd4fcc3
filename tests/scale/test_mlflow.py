"""logger=mlflow against a real MLflow tracking server, started here on a free local port with a
SQLite backend and a local artifact folder (artifacts go through the server, as with a remote
one): a 2-job multirun gives one finished run per job, holding the resolved config as params,
every metric at its step, the sample grids and the best checkpoint as artifacts. Everything is
read back through mlflow.MlflowClient."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from mlflow import MlflowClient
from PIL import Image

from cnngan.run.loggers import mlflow_tracking
from cnngan.run.metrics_file import read_metrics
from tests.scale.conftest import QUIET, run_train

EXPERIMENT = "scale_test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(url: str, server: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"mlflow server exited ({server.returncode}):\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"mlflow server not healthy after {timeout} s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(tracking URL, artifact folder) of a server of our own, stopped (its process group) after."""
    root = tmp_path_factory.mktemp("mlflow_server")
    url = f"http://127.0.0.1:{free_port()}"
    command = [
        str(Path(sys.executable).parent / "mlflow"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination",
        str(root / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        url.rsplit(":", 1)[1],
        "--workers",
        "1",
    ]
    log = root / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_until_healthy(url, server, log, timeout=180)
        yield url, root / "artifacts"
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its workers, started above
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)


@pytest.fixture(scope="module")
def mlflow_sweep(mlflow_server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two jobs of the default GAN on digits (G widths 8 and 16), 4 iterations, a sample grid
    every 2 iterations, every metric logged at every step."""
    url, _ = mlflow_server
    tmp = tmp_path_factory.mktemp("mlflow_sweep")
    sweep = tmp / "sweep"
    run_train(
        [
            "-m",
            "experiment=gan_dcgan",
            "data=digits",
            "trainer.max_steps=4",
            "trainer.log_every_n_steps=1",
            "model.generator.width=8,16",
            "callbacks.sample_grid.every_n_iterations=2",
            "logger=mlflow",
            f"logger.mlflow.tracking_uri={url}",
            f"logger.mlflow.experiment_name={EXPERIMENT}",
            "tags=[scale_test,digits]",
            f"hydra.sweep.dir={sweep}",
            *QUIET,
        ],
        tmp,
    )
    return sweep


def runs_by_job(url: str) -> dict[str, object]:
    client = MlflowClient(url)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None, f"no MLflow experiment {EXPERIMENT!r} on the server"
    runs = client.search_runs([experiment.experiment_id])
    return {run.data.tags["cnngan.job"]: run for run in runs}


def test_tracking_store_without_a_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No URI anywhere: a local SQLite store (MLflow 3 refuses Lightning's file-store fallback);
    MLFLOW_TRACKING_URI or tracking_uri name a server, which chooses its artifact location."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri, artifacts = mlflow_tracking(None, tmp_path / "store")
    assert uri == f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    assert artifacts == (tmp_path / "store" / "artifacts").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking:5000")
    assert mlflow_tracking(None, tmp_path) == ("http://tracking:5000", None)
    assert mlflow_tracking("http://other:80", tmp_path) == ("http://other:80", None)


@pytest.mark.slow
def test_multirun_makes_one_finished_run_per_job(mlflow_server, mlflow_sweep: Path) -> None:
    url, _ = mlflow_server
    runs = runs_by_job(url)
    assert set(runs) == {"0", "1"}
    for job, width in (("0", "8"), ("1", "16")):
        run = runs[job]
        assert run.info.status == "FINISHED"
        assert run.info.run_name.startswith(f"{job}-")
        assert f"model.generator.width={width}" in run.info.run_name
        assert run.data.tags["cnngan.tags"] == "scale_test,digits"
        assert run.data.tags["cnngan.run_dir"] == str(mlflow_sweep / job)
        card = (mlflow_sweep / job / "README.md").read_text()  # the job's run card
        assert f"Job {job} of the multirun in `{mlflow_sweep}`" in card
    assert runs["0"].data.tags["cnngan.sweep"] == runs["1"].data.tags["cnngan.sweep"]
    assert runs["0"].info.run_id != runs["1"].info.run_id


@pytest.mark.slow
def test_runs_hold_the_config_and_every_metric_at_its_step(mlflow_server, mlflow_sweep) -> None:
    url, _ = mlflow_server
    client = MlflowClient(url)
    for job, width in (("0", "8"), ("1", "16")):
        run = runs_by_job(url)[job]
        params = run.data.params
        assert params["model/generator/width"] == width  # the full resolved config
        assert params["data/name"] == "digits" and params["trainer/max_steps"] == "4"
        assert f"model.generator.width={width}" in params["overrides"]
        history = client.get_metric_history(run.info.run_id, "train/g_loss")
        steps = [m.step for m in history]
        assert len(steps) >= 3 and steps == sorted(set(steps)), steps  # one value per step
        written = read_metrics(mlflow_sweep / job)  # the job's metrics.json
        for key in ("val/fid", "test/d_loss"):
            assert run.data.metrics[key] == pytest.approx(written[key], rel=1e-6)


@pytest.mark.slow
def test_sample_grids_and_the_best_checkpoint_are_artifacts(
    mlflow_server, mlflow_sweep: Path, tmp_path: Path
) -> None:
    url, artifact_root = mlflow_server
    client = MlflowClient(url)
    run = runs_by_job(url)["1"]
    run_id = run.info.run_id
    grids = sorted(a.path for a in client.list_artifacts(run_id, "samples/ema"))
    assert len(grids) >= 2 and grids[-1] == "samples/ema/step_000004.png", grids  # every 2 + end
    grid = np.asarray(Image.open(client.download_artifacts(run_id, grids[-1], str(tmp_path))))
    final = np.asarray(Image.open(mlflow_sweep / "1" / "samples" / "final.png"))
    assert np.array_equal(grid, final)  # the grid after the last iteration, pixel for pixel

    best = {a.path for a in client.list_artifacts(run_id, "best-fid")}
    assert "best-fid/best-fid.ckpt" in best
    folder = tmp_path / "best"
    folder.mkdir()
    ckpt = client.download_artifacts(run_id, "best-fid", str(folder))
    assert "best" in (Path(ckpt) / "aliases.txt").read_text()
    uploaded = torch.load(Path(ckpt) / "best-fid.ckpt", map_location="cpu", weights_only=True)
    local = torch.load(
        mlflow_sweep / "1" / "checkpoints" / "best-fid.ckpt", map_location="cpu", weights_only=True
    )
    assert uploaded["global_step"] == local["global_step"] > 0
    assert all(torch.equal(uploaded["state_dict"][k], v) for k, v in local["state_dict"].items())
    # the server stored them in its artifact folder
    assert any(artifact_root.rglob("best-fid.ckpt")) and any(artifact_root.rglob("step_*.png"))
