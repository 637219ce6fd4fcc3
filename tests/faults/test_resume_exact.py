"""Exact resume from any step: a real run SIGKILLed at a random step inside an epoch (drawn from
$CNNGAN_KILL_SEED, printed), resumed from its newest checkpoint, ends with the same weights and
optimizer states, bit for bit, as a run that was never interrupted (classifier and GAN, one
process)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.faults.runs import (
    EXACT,
    TINY_GAN,
    assert_same_training_state,
    kill_at_step,
    kill_step,
    start,
    train,
)

# digits: 1238 training images; batches of 16 -> 77 batches per epoch
BATCHES_PER_EPOCH = 1238 // 16
CLASSIFIER = [
    "data=digits",
    "data.batch_size=16",
    "model.net.channels=[8,16]",
    "model.net.fc_dims=[32]",
    "trainer.max_epochs=2",
    *EXACT,
]
GAN = [*TINY_GAN, "trainer.max_steps=120"]


def kill_and_resume(args: list[str], tmp_path: Path, kill_step: int) -> tuple[Path, int]:
    """Start a run, SIGKILL it once its last.ckpt holds `kill_step` or later, resume it from that
    checkpoint in a fresh folder; return the resumed run's checkpoints folder and the step it
    resumed from."""
    killed = tmp_path / "killed"
    kill_at_step(start(args, killed), killed / "checkpoints" / "last.ckpt", kill_step)
    newest = killed / "checkpoints" / "last.ckpt"
    state = torch.load(newest, map_location="cpu", weights_only=True)
    assert state["loops"]["fit_loop"]["state_dict"]["combined_loader"], "no data order saved"
    return train([*args, f"ckpt_path={newest}"], tmp_path / "resumed"), state["global_step"]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_classifier_killed_mid_epoch_resumes_bitwise(tmp_path: Path) -> None:
    step = kill_step(BATCHES_PER_EPOCH + 10, 2 * BATCHES_PER_EPOCH - 20)  # inside epoch 2
    full = train(CLASSIFIER, tmp_path / "full")
    resumed, saved = kill_and_resume(CLASSIFIER, tmp_path, step)
    assert saved % BATCHES_PER_EPOCH != 0, f"killed at an epoch boundary (step {saved})"
    assert_same_training_state(full / "last.ckpt", resumed / "last.ckpt")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_gan_killed_mid_epoch_resumes_bitwise(tmp_path: Path) -> None:
    iteration = kill_step(BATCHES_PER_EPOCH + 5, 110)  # inside epoch 2 (optimizer steps: x2)
    full = train(GAN, tmp_path / "full")
    resumed, saved = kill_and_resume(GAN, tmp_path, 2 * iteration)
    assert (saved // 2) % BATCHES_PER_EPOCH != 0, f"killed at an epoch boundary ({saved // 2})"
    assert_same_training_state(full / "last.ckpt", resumed / "last.ckpt")
