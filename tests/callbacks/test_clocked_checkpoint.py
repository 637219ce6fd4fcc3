"""The clocked checkpoint callback keeps the state key of the checkpoints written before its rename,
and the exact-resume state is a callback of its own, visible in the composed config."""

from __future__ import annotations

from pathlib import Path

import hydra
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from cnngan.checkpoints.clock import ClockedModelCheckpoint
from cnngan.checkpoints.resume_state import ResumeState

LEGACY_GAN = Path(__file__).parents[1] / "fixtures" / "legacy" / "gan_dcgan_digits.ckpt"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"monitor": None, "mode": "min", "every_n_epochs": 1},
        {"monitor": "val/acc", "mode": "max"},
        {"monitor": "val/fid", "mode": "min", "every_n_epochs": 2},
    ],
)
def test_state_key_is_the_one_lightning_gives_its_own_class(kwargs: dict) -> None:
    clocked = ClockedModelCheckpoint(**kwargs, every_n_train_steps=5, train_time_interval=60)
    assert clocked.state_key == ModelCheckpoint(**kwargs).state_key
    assert clocked.state_key.startswith("ModelCheckpoint{")


def test_an_old_checkpoints_callback_state_is_found_and_restored() -> None:
    """The legacy GAN run (callbacks=gan) stored its checkpoint state under Lightning's key; the
    same settings find it, and loading it restores the paths it recorded."""
    legacy = torch.load(LEGACY_GAN, weights_only=True)
    stored = legacy["cnngan"]["config"]["callbacks"]["model_checkpoint"]
    settings = {k: v for k, v in stored.items() if k != "_target_"}
    callback = ClockedModelCheckpoint(**settings)
    assert callback.state_key in legacy["callbacks"]
    callback.load_state_dict(legacy["callbacks"][callback.state_key])
    assert callback.last_model_path == stored["dirpath"] + "/last.ckpt"
    assert callback.best_model_path.endswith("epoch000.ckpt")


@pytest.mark.parametrize("callbacks", ["default", "gan", "gan_best_fid"])
def test_exact_resume_is_an_entry_of_the_composed_callbacks(make_cfg, callbacks: str) -> None:
    cfg = make_cfg("train", [f"callbacks={callbacks}"])
    assert isinstance(hydra.utils.instantiate(cfg.callbacks.resume_state), ResumeState)
    checkpoint = hydra.utils.instantiate(cfg.callbacks.model_checkpoint)
    assert type(checkpoint) is ClockedModelCheckpoint


def test_the_checkpoint_config_alone_adds_no_resume_state(make_cfg) -> None:
    cfg = make_cfg("train", ["callbacks=model_checkpoint"])
    assert set(cfg.callbacks) == {"model_checkpoint"}
