"""On a CUDA device (marker `gpu`; skipped with the reason where there is none): `trainer=gpu` runs
of the classifier and the GAN, `precision=auto` choosing bf16 on Ampere or newer, channels_last
nets and batches with fused optimizers, an exact resume that restores the CUDA generator, and DDP
over NCCL where two GPUs exist. scripts/gpu_check.sh runs these and writes their results."""

from __future__ import annotations

import json
import random
from pathlib import Path

import hydra
import lightning as L
import pytest
import torch

from cnngan.run.precision import BF16, FP32, choose_precision
from tests.conftest import compose_config
from tests.faults.runs import (
    EXACT,
    TINY_GAN,
    assert_same_training_state,
    kill_at_step,
    start,
    train,
)
from tests.gpu.conftest import needs_gpus
from tests.scale.conftest import FEW_BATCHES, QUIET, run_train

pytestmark = pytest.mark.gpu

GPU = ["trainer=gpu"]
AMPERE = 8  # CUDA compute capability major version of Ampere (A100: 8.0, H100: 9.0)


def _capability() -> int:
    return torch.cuda.get_device_capability(0)[0]


@pytest.mark.slow
def test_classifier_trains_on_the_gpu(tmp_path: Path) -> None:
    proc = run_train([*GPU, "data=digits", "trainer.max_epochs=2", *QUIET, *FEW_BATCHES], tmp_path)
    output = proc.stdout + proc.stderr
    assert "GPU available: True (cuda), used: True" in output, output[-3000:]
    (run,) = (tmp_path / "logs" / "train" / "runs").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["val/acc_best"] > 0.3  # digits, 20 steps: well above chance (0.1)


@pytest.mark.slow
def test_gan_trains_on_the_gpu(tmp_path: Path) -> None:
    args = [*GPU, *TINY_GAN, "trainer.max_steps=40", "trainer.accelerator=gpu"]
    checkpoints = train(args, tmp_path / "gan")
    state = torch.load(checkpoints / "last.ckpt", map_location="cpu", weights_only=True)
    assert state["global_step"] == 2 * 40  # an iteration = a D step + a G step
    values = [v for v in state["state_dict"].values() if v.is_floating_point()]
    assert all(torch.isfinite(v).all() for v in values)


def test_precision_auto_chooses_bf16_on_ampere_or_newer() -> None:
    chosen = choose_precision("auto", "gpu")
    assert chosen == (BF16 if _capability() >= AMPERE else FP32), torch.cuda.get_device_name(0)


class _Formats(L.Callback):
    """Records whether the first training batch and the conv weights are channels_last."""

    def __init__(self) -> None:
        self.batch_channels_last: bool | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # noqa: ANN001
        if self.batch_channels_last is None:
            images = batch[0]
            assert images.is_cuda
            self.batch_channels_last = images.is_contiguous(memory_format=torch.channels_last)


def _conv_weights(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p for p in module.parameters() if p.dim() == 4]


@pytest.mark.parametrize("experiment", ["classifier", "gan"])
def test_channels_last_and_fused_optimizers_on_cuda(experiment: str, tmp_path: Path) -> None:
    overrides = ["data=digits", "data.channels_last=true", "trainer.accelerator=gpu"]
    if experiment == "gan":
        overrides = ["experiment=gan_dcgan", *overrides, "model.generator.width=16"]
    cfg = compose_config("train", [*overrides, "trainer.max_steps=6"], tmp_path)
    L.seed_everything(0)
    datamodule, model = hydra.utils.instantiate(cfg.data), hydra.utils.instantiate(cfg.model)
    formats = _Formats()
    trainer = L.Trainer(
        accelerator="gpu",
        devices=1,
        max_steps=6,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        callbacks=[formats],
    )
    trainer.fit(model, datamodule=datamodule)
    assert formats.batch_channels_last, "the batch reached the step in contiguous format"
    convs = _conv_weights(model)
    assert convs and all(p.is_cuda for p in convs)
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    for optimizer in trainer.optimizers:
        assert optimizer.defaults.get("fused") is True, type(optimizer).__name__
        assert all(s["step"].is_cuda for s in optimizer.state.values() if "step" in s)


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("experiment", ["classifier", "gan"])
def test_exact_resume_restores_the_cuda_generator(experiment: str, tmp_path: Path) -> None:
    """Killed at a random step, resumed from its newest checkpoint: bitwise the uninterrupted run
    on the GPU. The GAN draws its noise and the classifier its dropout masks from the CUDA
    generator, so a resume that did not restore it would differ."""
    if experiment == "gan":
        args, steps = [*TINY_GAN, "trainer.max_steps=60"], 120  # 2 optimizer steps per iteration
    else:
        args = ["data=digits", "data.batch_size=16", "trainer.max_epochs=1", *EXACT]
        args += ["model.net.dropout=0.3"]
        steps = 1238 // 16
    args = [*args, "trainer.accelerator=gpu"]
    full = train(args, tmp_path / "full")
    killed = tmp_path / "killed"
    newest = killed / "checkpoints" / "last.ckpt"
    kill_at_step(start(args, killed), newest, random.randint(10, steps - 10))
    state = torch.load(newest, map_location="cpu", weights_only=True)
    rng = next(v["rng"] for k, v in state["callbacks"].items() if "ResumeState" in k)
    assert rng[0].get("cuda"), "the checkpoint holds no CUDA generator state"
    resumed = train([*args, f"ckpt_path={newest}"], tmp_path / "resumed")
    assert_same_training_state(full / "last.ckpt", resumed / "last.ckpt")


@pytest.mark.slow
@needs_gpus(2)
@pytest.mark.parametrize("experiment", ["classifier", "gan"])
def test_ddp_over_nccl_on_two_gpus(experiment: str, tmp_path: Path) -> None:
    from tests.scale.test_ddp import REPLICAS, assert_replicas_identical

    args = ["trainer=ddp", "trainer.devices=2", "data=digits", *QUIET, *REPLICAS]
    if experiment == "gan":
        args += ["experiment=gan_dcgan", "trainer.max_steps=20", "trainer.max_time=null"]
        args += ["+trainer.limit_val_batches=1", "+trainer.limit_test_batches=1"]
    else:
        args += ["trainer.max_epochs=1", *FEW_BATCHES]
    proc = run_train(args, tmp_path)
    assert "distributed_backend=nccl" in proc.stdout + proc.stderr
    (run,) = (tmp_path / "logs" / "train" / "runs").iterdir()
    assert_replicas_identical(run, buffers=True)
