"""cnngan: Hydra + Lightning experiments for CNN classifiers and GANs."""

from pathlib import Path

__version__ = "0.1.0"


def config_dir() -> str:
    """The folder of Hydra configs: the repository's `conf/` in a source checkout, else the copy
    shipped inside the installed package."""
    repo_conf = Path(__file__).resolve().parents[2] / "conf"
    if (repo_conf / "train.yaml").is_file():
        return str(repo_conf)
    return str(Path(__file__).resolve().parent / "conf")
