"""Every config group option and every experiment composes; classifier parts instantiate."""

from pathlib import Path

import hydra
import pytest
from hydra.errors import MissingConfigException

from cnngan import config_dir
from tests.conftest import compose_config

CONF = Path(config_dir())
GROUPS = ["data", "model", "trainer", "logger", "callbacks", "debug", "paths", "extras"]


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in _options(g)])
def test_group_option_composes(group: str, option: str, tmp_path: Path) -> None:
    overrides = [f"{group}={option}"]
    if group == "model" and option.startswith("gan"):
        overrides.append("data.normalize.mean=[0.5]")
    cfg = compose_config("train", overrides, tmp_path)
    assert cfg.data.image_shape and cfg.trainer._target_


@pytest.mark.parametrize("experiment", _options("experiment"))
def test_experiment_composes_and_instantiates_model(experiment: str, tmp_path: Path) -> None:
    """Each experiment builds the model its config names, shaped by the data config."""
    import torch

    cfg = compose_config("train", [f"experiment={experiment}", "data=digits"], tmp_path)
    model = hydra.utils.instantiate(cfg.model)
    assert type(model).__name__ == cfg.model._target_.rsplit(".", 1)[-1]
    model.eval()
    shape = tuple(cfg.data.image_shape)
    with torch.no_grad():
        if callable(getattr(model, "generate", None)):  # a GAN: samples have the data's shape
            assert tuple(model.generate(2).shape) == (2, *shape)
        else:  # a classifier: one logit per class of the data
            assert tuple(model(torch.zeros(2, *shape)).shape) == (2, cfg.data.num_classes)


@pytest.mark.parametrize("config_name", ["train", "eval", "predict"])
def test_entry_configs_compose(config_name: str, tmp_path: Path) -> None:
    cfg = compose_config(config_name, [], tmp_path)
    assert cfg.task_name == config_name


def test_unknown_option_names_the_choices(tmp_path: Path) -> None:
    with pytest.raises(MissingConfigException) as info:
        compose_config("train", ["model=transformer"], tmp_path)
    assert "cnn" in str(info.value) and "resnet" in str(info.value)


@pytest.mark.parametrize("data", ["fashion_mnist", "mnist", "cifar10", "digits"])
def test_model_shapes_come_from_data(data: str, tmp_path: Path) -> None:
    cfg = compose_config("train", [f"data={data}", "model=resnet"], tmp_path)
    assert list(cfg.model.net.in_shape) == list(cfg.data.image_shape)
    assert cfg.model.net.num_classes == cfg.data.num_classes
    net = hydra.utils.instantiate(cfg.model.net)
    import torch

    assert net(torch.zeros(2, *cfg.data.image_shape)).shape == (2, cfg.data.num_classes)
