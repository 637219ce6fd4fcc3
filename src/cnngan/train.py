"""cnngan-train: compose the config, build data/model/trainer, fit, test, write metrics.json.

cnngan-train                                   # default experiment (CNN on Fashion-MNIST)
cnngan-train experiment=classifier_resnet trainer.max_epochs=20
cnngan-train -m model.optimizer.lr=1e-3,3e-3   # a sweep
"""

from __future__ import annotations

import time
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from cnngan import config_dir


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit and test the model described by `cfg`; return all final metrics as floats."""
    import lightning as L
    from hydra.core.hydra_config import HydraConfig

    from cnngan.utils.checkpoint import StoreConfigInCheckpoint, load_checkpoint
    from cnngan.utils.instantiate import instantiate_list
    from cnngan.utils.rank import log
    from cnngan.utils.run import (
        apply_extras,
        plain_metrics,
        print_config_tree,
        print_summary,
        save_resolved_config,
        write_metrics,
    )

    started = time.perf_counter()
    run_dir = cfg.paths.output_dir
    apply_extras(cfg)
    if cfg.get("extras", {}).get("print_config", True):
        print_config_tree(cfg)
    save_resolved_config(cfg, run_dir)
    if cfg.get("ckpt_path"):
        load_checkpoint(cfg.ckpt_path)  # fail early, before any work, on a bad checkpoint
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)

    log.info("Instantiating data <%s>", cfg.data._target_)
    datamodule = hydra.utils.instantiate(cfg.data)
    log.info("Instantiating model <%s>", cfg.model._target_)
    model = hydra.utils.instantiate(cfg.model)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    hydra_cfg = HydraConfig.get() if HydraConfig.initialized() else None
    callbacks = instantiate_list(cfg.get("callbacks")) + [StoreConfigInCheckpoint(resolved)]
    loggers = instantiate_list(cfg.get("logger"))
    trainer: L.Trainer = hydra.utils.instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False
    )
    for logger in loggers:
        logger.log_hyperparams(_loggable_config(resolved, hydra_cfg))

    if cfg.get("train", True):
        trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    metrics: dict[str, Any] = dict(trainer.callback_metrics)

    if cfg.get("test", True):
        ckpt = _best_checkpoint(trainer) if cfg.get("train", True) else cfg.get("ckpt_path")
        if not ckpt:
            log.warning("No best checkpoint found (fast_dev_run?); testing the current weights.")
        trainer.test(model, datamodule=datamodule, ckpt_path=ckpt or None, weights_only=True)
        metrics.update(trainer.callback_metrics)

    metrics = plain_metrics(metrics)
    wall_s = time.perf_counter() - started
    metrics["time/wall_s"] = wall_s
    if trainer.is_global_zero:
        write_metrics(metrics, run_dir)
        print_summary(metrics, wall_s, run_dir)
    _finish_wandb()
    return metrics


def _best_checkpoint(trainer: Any) -> str | None:
    callback = getattr(trainer, "checkpoint_callback", None)
    return getattr(callback, "best_model_path", None) or None


def _loggable_config(resolved: dict[str, Any], hydra_cfg: Any) -> dict[str, Any]:
    config = {k: v for k, v in resolved.items() if k != "hydra"}
    if hydra_cfg is not None:
        config["overrides"] = list(hydra_cfg.overrides.task)
    return config


def _finish_wandb() -> None:
    """Close the W&B run so a multirun's next job starts a new one."""
    import sys

    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            wandb.finish()


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="train")
def main(cfg: DictConfig) -> float | None:
    from cnngan.utils.distributed import finish_distributed
    from cnngan.utils.sweep import sweep_objective

    try:
        metrics = train(cfg)
    finally:
        _finish_wandb()
        finish_distributed()  # DDP: wait for the other ranks, free the port for the next job
    return sweep_objective(metrics, cfg.get("optimized_metric"))


if __name__ == "__main__":
    main()
