"""cnngan-eval: test a checkpoint on the test split and write metrics.json.

    cnngan-eval ckpt_path=logs/train/runs/<run>/checkpoints/best.ckpt
    cnngan-eval ckpt_path=<GAN checkpoint>          # the GAN metric suite (conf/metrics/)
    cnngan-eval samples_path=<folder or .pt/.npy>   # score images of another program

The model and data module are rebuilt from the config stored inside the checkpoint, so the
command needs nothing else; `+data.<key>=...` overrides entries of that stored data config and
`+model.<key>=...` entries of the stored model config (e.g. +model.tta_hflip=true).
"""

from __future__ import annotations

import time
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from cnngan import config_dir


def evaluation_data_config(
    stored: dict[str, Any], overrides: DictConfig, data_dir: str
) -> DictConfig:
    """The data config of the checkpoint's run, pointed at this run's data_dir, plus overrides."""
    data = OmegaConf.create(stored["data"])
    data.data_dir = data_dir
    return OmegaConf.merge(data, overrides or {})


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    from cnngan.utils.checkpoint import model_from_checkpoint
    from cnngan.utils.entry import print_summary
    from cnngan.utils.instantiate import instantiate_list
    from cnngan.utils.metrics_file import plain_metrics, write_metrics

    started = time.perf_counter()
    if cfg.get("samples_path"):  # images of another program: the GAN metric suite
        from cnngan.metrics.run import evaluate_samples

        return evaluate_samples(cfg)
    if not cfg.get("ckpt_path"):
        from cnngan.utils.errors import UserError

        raise UserError("pass ckpt_path=<classifier or GAN checkpoint> or samples_path=<images>")
    model, stored = model_from_checkpoint(cfg.ckpt_path, cfg.get("model"))
    if callable(getattr(model, "generate", None)):  # a GAN: the metric suite of conf/metrics/
        from cnngan.metrics.run import evaluate_generator

        return evaluate_generator(cfg, model, stored)
    datamodule = hydra.utils.instantiate(
        evaluation_data_config(stored, cfg.get("data"), cfg.paths.data_dir)
    )
    loggers = instantiate_list(cfg.get("logger"))
    trainer = hydra.utils.instantiate(cfg.trainer, logger=loggers or False, callbacks=[])
    trainer.test(model, datamodule=datamodule)
    metrics = plain_metrics(trainer.callback_metrics)
    if trainer.is_global_zero:
        write_metrics(metrics, cfg.paths.output_dir)
        print_summary(metrics, time.perf_counter() - started, cfg.paths.output_dir)
    return metrics


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="eval")
def main(cfg: DictConfig) -> None:
    from cnngan.utils.entry import run_entry

    run_entry(cfg, evaluate, command="cnngan-eval")


if __name__ == "__main__":
    main()
