"""The GAN half of cnngan-eval (`cnngan.eval.evaluate` dispatches here): score a GAN checkpoint or
a file/folder of samples with the metric suite of conf/metrics/, print a table and write
metrics.json (flat scores + `protocol/<key>`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from cnngan.checkpoints.model import stored_data_config
from cnngan.core.device import resolve_device
from cnngan.core.errors import UserError
from cnngan.core.rank import log
from cnngan.metrics.cas import classification_accuracy_score
from cnngan.metrics.evaluator import read_metadata
from cnngan.metrics.feature_nets import build_feature_net, evaluator_name
from cnngan.metrics.samples import (
    gan_sampler,
    load_samples,
    match_channels,
    reference_images,
    reference_split,
)
from cnngan.metrics.suite import (
    LABEL_ACCURACY_KEYS,
    PER_CLASS_SUMMARY_KEYS,
    SCORE_KEYS,
    GanMetrics,
    score_images,
)
from cnngan.models import GAN
from cnngan.models.gan.sampling import check_truncation
from cnngan.run.instantiate import instantiate_list
from cnngan.run.metrics_file import PROTOCOL_PREFIX, read_metrics, write_metrics


def build_suite(mcfg: DictConfig, dataset: str | None, device: torch.device) -> GanMetrics:
    """The suite of `metrics.suite` in the feature space of `metrics.features`."""
    name = evaluator_name(mcfg.evaluator, dataset)
    feature_net = build_feature_net(mcfg.features, name, mcfg.get("inception_weights"), device)
    return hydra.utils.instantiate(mcfg.suite)(feature_net, seed=mcfg.seed).to(device)


def protocol(mcfg: DictConfig, suite: GanMetrics, source: str, dataset: str | None) -> dict:
    """How the scores were measured: the suite's own protocol + feature space, data, seed, source."""
    evaluator = evaluator_name(mcfg.evaluator, dataset)
    return {
        **suite.protocol(),
        "features": mcfg.features,
        "evaluator": evaluator if mcfg.features == "evaluator" else "inception",
        "dataset": dataset,
        "reference": mcfg.reference,
        "seed": mcfg.seed,
        "source": source,
    }


def score_checkpoint(cfg: DictConfig, model: GAN, stored: dict[str, Any]) -> dict[str, Any]:
    """Score a GAN rebuilt from its checkpoint against the reference split of its own dataset."""
    started = time.perf_counter()
    mcfg, device = cfg.metrics, resolve_device(cfg.metrics.get("device", "auto"))
    truncation = check_truncation(mcfg.get("truncation"), "metrics.truncation")
    data_cfg = stored_data_config(stored, cfg.paths.data_dir, cfg.get("data"))
    datamodule = hydra.utils.instantiate(data_cfg)
    suite = build_suite(mcfg, str(data_cfg.name), device)
    real, labels = reference_split(datamodule, mcfg.reference, mcfg.num_samples, mcfg.seed)
    model = model.to(device).eval()
    sample = gan_sampler(model, mcfg.use_ema, mcfg.seed, device, truncation)
    # a conditional GAN is also scored per class (its samples have labels, balanced)
    labels = labels if sample.conditional else None
    scores = score_images(suite, real, sample, mcfg.num_samples, mcfg.batch_size, device, labels)
    measured = protocol(mcfg, suite, str(cfg.ckpt_path), str(data_cfg.name))
    measured["use_ema"] = bool(mcfg.use_ema)
    measured["truncation"] = truncation
    if mcfg.cas.enabled:
        scores.update(cas_scores(cfg, model, datamodule, data_cfg, truncation))
    return report(cfg, scores, measured, time.perf_counter() - started)


def score_sample_files(cfg: DictConfig) -> dict[str, Any]:
    """Score images written by another program (`samples_path`) against the evaluator's dataset."""
    started = time.perf_counter()
    mcfg, device = cfg.metrics, resolve_device(cfg.metrics.get("device", "auto"))
    if mcfg.get("truncation") is not None:
        raise UserError(
            f"metrics.truncation={mcfg.truncation} samples a checkpoint's latent, but "
            f"samples_path={cfg.samples_path} holds finished images; truncate when writing them "
            "(cnngan-sample truncation=...) and drop metrics.truncation"
        )
    if mcfg.features != "evaluator" and mcfg.evaluator in (None, "auto"):
        raise UserError(
            "samples_path with metrics.features=inception needs metrics.evaluator=<name> for the "
            "dataset"
        )
    data_meta = read_metadata(evaluator_name(mcfg.evaluator, None))["data"]
    data_cfg = OmegaConf.merge(
        OmegaConf.create(data_meta), {"data_dir": cfg.paths.data_dir}, cfg.get("data") or {}
    )
    suite = build_suite(mcfg, str(data_cfg.name), device)
    fake = load_samples(cfg.samples_path, mcfg.samples_range, limit=mcfg.num_samples)
    fake = match_channels(fake, int(data_cfg.image_shape[0]))
    datamodule = hydra.utils.instantiate(data_cfg)
    real = reference_images(datamodule, mcfg.reference, mcfg.num_samples, mcfg.seed)
    scores = score_images(suite, real, fake, batch_size=mcfg.batch_size, device=device)
    measured = protocol(mcfg, suite, str(cfg.samples_path), str(data_cfg.name))
    return report(cfg, scores, measured, time.perf_counter() - started)


def cas_scores(
    cfg: DictConfig,
    gan: GAN,
    datamodule: Any,
    data_cfg: DictConfig,
    truncation: float | None = None,
) -> dict:
    """CAS with the classifier of `metrics.cas.model` on samples drawn as the scores' are
    (truncation included); its `metrics.cas.data` entries (shape, classes) are filled from the
    GAN's data config."""
    if not gan.hparams.get("conditional", False):
        log.warning("metrics.cas.enabled=true but the GAN is not conditional: CAS skipped")
        return {}
    cas = cfg.metrics.cas
    cas = OmegaConf.merge(cas, {"data": {k: data_cfg.get(k, v) for k, v in cas.data.items()}})
    return classification_accuracy_score(
        gan_sampler(gan, cfg.metrics.use_ema, cfg.metrics.seed + 1, gan.device, truncation),
        datamodule,
        lambda: hydra.utils.instantiate(cas.model),
        num_train=cas.num_train,
        epochs=cas.epochs,
        seed=cfg.metrics.seed,
        out_dir=str(Path(cfg.paths.output_dir) / "cas"),
    )


def report(
    cfg: DictConfig, scores: dict[str, Any], measured: dict[str, Any], wall_s: float
) -> dict[str, Any]:
    """Write metrics.json, log to the eval loggers, print the table; return what was written."""
    counts = scores.pop("mode_counts", [])
    scores.update({f"mode_counts/{i}": c for i, c in enumerate(counts)})
    scores["time/wall_s"] = wall_s
    path = write_metrics(scores, cfg.paths.output_dir, protocol=measured)
    result = read_metrics(path)
    numbers = {
        k: v for k, v in result.items() if not k.startswith(PROTOCOL_PREFIX) and v is not None
    }
    for logger in instantiate_list(cfg.get("logger")):
        logger.log_metrics({f"test/{k}": v for k, v in numbers.items()}, step=0)
        logger.finalize("success")
    print_table(result, measured)
    log.info("metrics.json written to %s", path.parent)
    return result


def print_table(result: dict[str, Any], measured: dict[str, Any]) -> None:
    import rich
    from rich.table import Table

    table = Table(title="GAN metrics", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    cas = sorted(k for k in result if k.startswith("cas_"))
    for key in [*SCORE_KEYS, *PER_CLASS_SUMMARY_KEYS, *LABEL_ACCURACY_KEYS, *cas]:
        if result.get(key) is not None:
            table.add_row(key, f"{result[key]:.4f}")
    rich.print(table)
    sha = measured.get("evaluator_sha256") or "?"
    rich.print(
        f"protocol: {measured['evaluator']} features (sha256 {sha[:16]}...), layers "
        f"{measured.get('feature_layers')}, reference {measured['dataset']}/"
        f"{measured['reference']} n_real={measured['n_real']}, n_fake={measured['n_fake']}, "
        f"seed {measured['seed']}"
    )
