"""Every config group option and every experiment composes; classifier parts instantiate; the GAN
recipes, the wall-clock budgets and conf/local are what they claim to be."""

import re
import shutil
import subprocess
from pathlib import Path

import hydra
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import MissingConfigException

from cnngan import config_dir
from tests.conftest import compose_config

CONF = Path(config_dir())
GROUPS = ["data", "model", "trainer", "budget", "logger", "callbacks", "debug", "paths", "extras"]


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


# ---------------------------------------------------------------- recipes, budgets, conf/local
GAN_DCGAN_FAMILY = [
    "gan_dcgan",
    "gan_dcgan_cond",
    "gan_dcgan_fast",
    "gan_dcgan_selfcond",
    "gan_dcgan_fewshot",
    "gan_hinge_sn",
    "gan_wgan_gp",
]


def test_gan_dcgan_family_covers_every_experiment_built_on_gan_dcgan() -> None:
    built_on = {
        p.stem
        for p in (CONF / "experiment").glob("gan_*.yaml")
        if p.stem == "gan_dcgan" or "  - gan_dcgan" in p.read_text()
    }
    assert built_on == set(GAN_DCGAN_FAMILY)


@pytest.mark.parametrize("experiment", GAN_DCGAN_FAMILY)
def test_gan_dcgan_experiments_score_fid_and_keep_the_best(experiment: str, tmp_path: Path) -> None:
    """What `make train-gan` measures comes from the experiment itself: FID during training,
    the best-FID checkpoint, the FID as the sweep objective, no hidden wall-clock cap."""
    cfg = compose_config("train", [f"experiment={experiment}"], tmp_path)
    assert cfg.callbacks.gan_fid._target_.endswith("GanMetricsCallback")
    assert (
        cfg.callbacks.gan_fid.prefix == "val/"
        and cfg.callbacks.gan_fid.evaluator == "fashion_mnist"
    )
    checkpoint = cfg.callbacks.model_checkpoint
    assert (checkpoint.monitor, checkpoint.mode, checkpoint.filename) == (
        "val/fid",
        "min",
        "best-fid",
    )
    assert (cfg.optimized_metric, cfg.optimized_direction) == ("val/fid", "minimize")
    assert cfg.trainer.max_time is None and cfg.trainer.max_steps > 0


def test_no_gan_experiment_hides_a_wall_clock_cap() -> None:
    for path in (CONF / "experiment").glob("gan_*.yaml"):
        assert "max_time" not in path.read_text(), f"{path.name}: a cap belongs to conf/budget/"


@pytest.mark.parametrize("experiment", ["gan_dcgan", "gan_seed", None])
def test_budget_is_a_named_choice(experiment: str | None, tmp_path: Path) -> None:
    chosen = [f"experiment={experiment}"] if experiment else []
    assert compose_config("train", chosen, tmp_path).trainer.max_time is None
    capped = compose_config("train", [*chosen, "budget=cpu_15min"], tmp_path)
    assert capped.trainer.max_time == "00:00:15:00"


def test_make_train_gan_adds_nothing_to_the_experiment() -> None:
    makefile = (CONF.parent / "Makefile").read_text()
    recipe = re.search(r"^train-gan:.*\n\t(.+)$", makefile, flags=re.MULTILINE)
    assert recipe and recipe.group(1) == "$(BIN)/cnngan-train experiment=gan_dcgan_selfcond $(ARGS)"


def test_local_settings_are_ignored_by_git_and_documented() -> None:
    def ignored(path: str) -> bool:
        check = subprocess.run(["git", "check-ignore", "-q", path], cwd=CONF.parent)
        return check.returncode == 0

    assert ignored("conf/local/default.yaml") and ignored("conf/local/gpu_box.yaml")
    assert not ignored("conf/local/README.md") and (CONF / "local" / "README.md").is_file()


@pytest.mark.parametrize("config_name", ["train", "eval", "predict", "sample", "inpaint"])
def test_local_readme_example_applies_to_every_command(config_name: str, tmp_path: Path) -> None:
    """The example of conf/local/README.md, saved as conf/local/default.yaml (in a copy of conf/),
    is picked up by every entry config; the command line still wins."""
    conf = tmp_path / "conf"
    shutil.copytree(CONF, conf)
    example = re.search(r"```yaml\n(.*?)```", (CONF / "local" / "README.md").read_text(), re.S)
    (conf / "local" / "default.yaml").write_text(example.group(1))
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
            cfg = compose(config_name=config_name)
            assert cfg.paths.data_dir == "/mnt/datasets" and cfg.extras.print_config is False
            cfg = compose(config_name=config_name, overrides=["paths.log_dir=elsewhere"])
            assert cfg.paths.log_dir == "elsewhere"
    finally:
        GlobalHydra.instance().clear()
