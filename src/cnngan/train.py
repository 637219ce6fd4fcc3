"""cnngan-train: compose the config, build data/model/trainer, fit, test, write metrics.json.

cnngan-train                                   # default experiment (CNN on Fashion-MNIST)
cnngan-train experiment=classifier_resnet trainer.max_epochs=20
cnngan-train -m model.optimizer.lr=1e-3,3e-3   # a sweep
"""

from __future__ import annotations

import time
from typing import Any

import hydra
import lightning as L
from omegaconf import DictConfig, OmegaConf

from cnngan import config_dir
from cnngan.checkpoints.fits_model import check_fits_model
from cnngan.checkpoints.preemption import RequeueOnSignal
from cnngan.checkpoints.requeue import resume_checkpoint
from cnngan.checkpoints.store import StoreConfigInCheckpoint
from cnngan.core.iterations import optimizer_steps_per_iteration
from cnngan.core.rank import log
from cnngan.run.entry import in_multirun, print_summary, run_entry
from cnngan.run.instantiate import instantiate_list
from cnngan.run.metrics_file import plain_metrics, write_metrics


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit and test the model described by `cfg`; return all final metrics as floats."""
    started = time.perf_counter()
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)

    log.info("Instantiating data <%s>", cfg.data._target_)
    datamodule = hydra.utils.instantiate(cfg.data)
    log.info("Instantiating model <%s>", cfg.model._target_)
    model = hydra.utils.instantiate(cfg.model)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    if cfg.get("ckpt_path"):
        check_fits_model(cfg.ckpt_path, model, resolved["model"])
    callbacks = instantiate_list(cfg.get("callbacks"))
    # RequeueOnSignal acts only in SLURM jobs: checkpoint before a time limit or a preemption
    callbacks += [StoreConfigInCheckpoint(resolved), RequeueOnSignal()]
    loggers = instantiate_list(cfg.get("logger"))
    trainer: L.Trainer = hydra.utils.instantiate(
        cfg.trainer,
        callbacks=callbacks,
        logger=loggers or False,
        optimizer_steps_per_iteration=optimizer_steps_per_iteration(model),  # max_steps: batches
    )
    for logger in loggers:
        logger.log_hyperparams(_loggable_config(resolved))

    if cfg.get("train", True):
        trainer.fit(
            model, datamodule=datamodule, ckpt_path=resume_checkpoint(trainer, cfg.get("ckpt_path"))
        )
    metrics: dict[str, Any] = dict(trainer.callback_metrics)

    if cfg.get("test", True):
        ckpt = _best_checkpoint(trainer) if cfg.get("train", True) else cfg.get("ckpt_path")
        if not ckpt:
            log.warning("No best checkpoint found (fast_dev_run?); testing the current weights.")
        trainer.test(model, datamodule=datamodule, ckpt_path=ckpt or None, weights_only=True)
        metrics.update(trainer.callback_metrics)

    metrics = plain_metrics(metrics)
    metrics["time/wall_s"] = time.perf_counter() - started
    if trainer.is_global_zero:
        write_metrics(metrics, cfg.paths.output_dir)
        print_summary(metrics, metrics["time/wall_s"], cfg.paths.output_dir)
    return metrics


def _best_checkpoint(trainer: L.Trainer) -> str | None:
    callback = getattr(trainer, "checkpoint_callback", None)
    return getattr(callback, "best_model_path", None) or None


def _loggable_config(resolved: dict[str, Any]) -> dict[str, Any]:
    """The resolved config without Hydra's own part, plus the command-line overrides."""
    from hydra.core.hydra_config import HydraConfig

    config = {k: v for k, v in resolved.items() if k != "hydra"}
    if HydraConfig.initialized():
        config["overrides"] = list(HydraConfig.get().overrides.task)
    return config


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="train")
def main(cfg: DictConfig) -> float | list[float] | None:
    """The return value is what a sweeper optimizes: `optimized_metric`'s value (or values)."""
    from cnngan.sweeps.objective import sweep_objective

    metrics = run_entry(cfg, train, command="cnngan-train")
    return sweep_objective(metrics, cfg.get("optimized_metric"), in_multirun=in_multirun())


if __name__ == "__main__":
    main()
