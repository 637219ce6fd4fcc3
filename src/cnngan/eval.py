"""cnngan-eval: test a checkpoint on the test split and write metrics.json.

    cnngan-eval ckpt_path=logs/train/runs/<run>/checkpoints/best.ckpt
    cnngan-eval ckpt_path=<GAN checkpoint>          # the GAN metric suite (cnngan.evaluate_gan)
    cnngan-eval samples_path=<folder or .pt/.npy>   # score images of another program

`evaluate` is the one dispatcher of conf/eval.yaml: a classifier checkpoint is tested here, a GAN
checkpoint and sample files are scored by `cnngan.evaluate_gan`. The model and data module are
rebuilt from the config stored inside the checkpoint, so the command needs nothing else;
`+data.<key>=...` overrides entries of that stored data config and `+model.<key>=...` entries of
the stored model config (e.g. +model.tta_hflip=true).
"""

from __future__ import annotations

import time
from typing import Any

import hydra
from omegaconf import DictConfig

from cnngan import config_dir
from cnngan.callbacks.confusion_matrix import ConfusionMatrixWriter
from cnngan.checkpoints.model import load_model, stored_data_config
from cnngan.core.errors import UserError
from cnngan.evaluate_gan import score_checkpoint, score_sample_files
from cnngan.models import GAN, ImageClassifier
from cnngan.run.entry import print_summary, run_entry
from cnngan.run.instantiate import instantiate_list
from cnngan.run.metrics_file import plain_metrics, write_metrics


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Test a classifier checkpoint, score a GAN checkpoint or score `samples_path`; return what
    metrics.json holds."""
    if cfg.get("samples_path"):
        return score_sample_files(cfg)
    if not cfg.get("ckpt_path"):
        raise UserError("pass ckpt_path=<classifier or GAN checkpoint> or samples_path=<images>")
    model, stored = load_model(
        cfg.ckpt_path, (ImageClassifier, GAN), "cnngan-eval", overrides=cfg.get("model")
    )
    if isinstance(model, GAN):
        return score_checkpoint(cfg, model, stored)
    return classifier_test_metrics(cfg, model, stored)


def classifier_test_metrics(
    cfg: DictConfig, model: ImageClassifier, stored: dict[str, Any]
) -> dict[str, float]:
    """trainer.test on the test split of the checkpoint's own data config."""
    started = time.perf_counter()
    datamodule = hydra.utils.instantiate(
        stored_data_config(stored, cfg.paths.data_dir, cfg.get("data"))
    )
    loggers = instantiate_list(cfg.get("logger"))
    trainer = hydra.utils.instantiate(
        cfg.trainer,
        logger=loggers or False,
        callbacks=[ConfusionMatrixWriter(cfg.paths.output_dir)],
    )
    trainer.test(model, datamodule=datamodule)
    metrics = plain_metrics(trainer.callback_metrics)
    if trainer.is_global_zero:
        write_metrics(metrics, cfg.paths.output_dir)
        print_summary(metrics, time.perf_counter() - started, cfg.paths.output_dir)
    return metrics


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="eval")
def main(cfg: DictConfig) -> None:
    run_entry(cfg, evaluate, command="cnngan-eval")


if __name__ == "__main__":
    main()
