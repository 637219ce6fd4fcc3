"""The GAN path of cnngan-eval: score a GAN checkpoint or a file/folder of samples with the suite,
print a table and write metrics.json (scores + protocol)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from cnngan.metrics.evaluator import FeatureNet, load_evaluator, read_metadata
from cnngan.metrics.suite import SCORE_KEYS, GanMetrics, score_images
from cnngan.utils.rank import log


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def evaluator_name(mcfg: DictConfig, dataset: str | None) -> str:
    name = mcfg.get("evaluator", "auto")
    if name in (None, "auto"):
        return dataset or "fashion_mnist"
    return str(name)


def build_feature_net(mcfg: DictConfig, dataset: str | None, device: torch.device) -> FeatureNet:
    """The feature network of `metrics.features`: the project's evaluator or Inception."""
    if mcfg.features == "inception":
        from cnngan.metrics.inception import InceptionFeatures

        return InceptionFeatures(mcfg.get("inception_weights")).to(device)
    if mcfg.features != "evaluator":
        raise ValueError(f"metrics.features={mcfg.features!r}; choose evaluator or inception")
    return load_evaluator(evaluator_name(mcfg, dataset), device=device)


def build_suite(mcfg: DictConfig, feature_net: FeatureNet, device: torch.device) -> GanMetrics:
    return GanMetrics(
        feature_net,
        kid_subsets=mcfg.kid_subsets,
        kid_subset_size=mcfg.kid_subset_size,
        is_splits=mcfg.is_splits,
        pr_k=mcfg.pr_k,
        dc_k=mcfg.dc_k,
        knn_max_samples=mcfg.knn_max_samples,
        mode_min_fraction=mcfg.mode_min_fraction,
        seed=mcfg.seed,
    ).to(device)


def _protocol(
    cfg: DictConfig, suite: GanMetrics, source: str, dataset: str | None
) -> dict[str, Any]:
    mcfg = cfg.metrics
    protocol = suite.protocol()
    protocol.update(
        features=mcfg.features,
        evaluator=evaluator_name(mcfg, dataset) if mcfg.features == "evaluator" else "inception",
        dataset=dataset,
        reference=mcfg.reference,
        seed=mcfg.seed,
        source=source,
    )
    return protocol


# ---------------------------------------------------------------------------------- entries
def evaluate_generator(cfg: DictConfig, model: Any, stored: dict[str, Any]) -> dict[str, Any]:
    """Score a GAN rebuilt from its checkpoint against the reference split of its own dataset."""
    import hydra

    from cnngan.eval import evaluation_data_config
    from cnngan.metrics.samples import gan_sampler, reference_images

    started = time.perf_counter()
    mcfg, device = cfg.metrics, resolve_device(cfg.metrics.get("device", "auto"))
    data_cfg = evaluation_data_config(stored, cfg.get("data"), cfg.paths.data_dir)
    datamodule = hydra.utils.instantiate(data_cfg)
    dataset = str(data_cfg.name)
    feature_net = build_feature_net(mcfg, dataset, device)
    suite = build_suite(mcfg, feature_net, device)
    real = reference_images(datamodule, mcfg.reference, mcfg.num_samples, mcfg.seed)
    model = model.to(device).eval()
    sample = gan_sampler(model, mcfg.use_ema, mcfg.seed, device)
    scores = score_images(suite, real, sample, mcfg.num_samples, mcfg.batch_size, device)
    protocol = _protocol(cfg, suite, str(cfg.ckpt_path), dataset)
    protocol["use_ema"] = bool(mcfg.use_ema)
    if mcfg.cas.enabled:
        scores.update(_cas(cfg, model, data_cfg, device))
    return report(cfg, scores, protocol, time.perf_counter() - started)


def evaluate_samples(cfg: DictConfig) -> dict[str, Any]:
    """Score images written by another program (`samples_path`) against the evaluator's dataset."""
    import hydra

    from cnngan.metrics.samples import load_samples, match_channels, reference_images

    started = time.perf_counter()
    mcfg, device = cfg.metrics, resolve_device(cfg.metrics.get("device", "auto"))
    name = evaluator_name(mcfg, None)
    data_meta = read_metadata(name)["data"] if mcfg.features == "evaluator" else None
    if data_meta is None:
        raise ValueError(
            "samples_path with metrics.features=inception needs metrics.evaluator=<name> for the dataset"
        )
    data_cfg = OmegaConf.merge(
        OmegaConf.create(data_meta), {"data_dir": cfg.paths.data_dir}, cfg.get("data") or {}
    )
    datamodule = hydra.utils.instantiate(data_cfg)
    feature_net = build_feature_net(mcfg, str(data_cfg.name), device)
    suite = build_suite(mcfg, feature_net, device)
    fake = load_samples(cfg.samples_path, mcfg.samples_range, limit=mcfg.num_samples)
    fake = match_channels(fake, int(data_cfg.image_shape[0]))
    real = reference_images(datamodule, mcfg.reference, mcfg.num_samples, mcfg.seed)
    scores = score_images(suite, real, fake, batch_size=mcfg.batch_size, device=device)
    protocol = _protocol(cfg, suite, str(cfg.samples_path), str(data_cfg.name))
    return report(cfg, scores, protocol, time.perf_counter() - started)


def _cas(cfg: DictConfig, gan: Any, data_cfg: DictConfig, device: torch.device) -> dict[str, float]:
    import hydra

    from cnngan.metrics.cas import classification_accuracy_score
    from cnngan.metrics.samples import gan_sampler

    if not gan.hparams.get("conditional", False):
        log.warning("metrics.cas.enabled=true but the GAN is not conditional: CAS skipped")
        return {}
    ccfg = cfg.metrics.cas
    composed = compose_train([f"model={ccfg.model}", f"data={data_cfg.name}"])
    data = OmegaConf.merge(composed.data, {"data_dir": cfg.paths.data_dir})
    with_data = OmegaConf.merge(composed, {"data": data})
    model_cfg = with_data.model
    sample = gan_sampler(gan, cfg.metrics.use_ema, cfg.metrics.seed + 1, device)
    return classification_accuracy_score(
        sample,
        hydra.utils.instantiate(with_data.data),
        lambda: hydra.utils.instantiate(model_cfg),
        num_train=ccfg.num_train,
        epochs=ccfg.epochs,
        seed=cfg.metrics.seed,
        out_dir=str(Path(cfg.paths.output_dir) / "cas"),
    )


def compose_train(overrides: list[str]) -> DictConfig:
    """The train config with `overrides` (inside a running Hydra app, or standalone)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from cnngan import config_dir

    if GlobalHydra.instance().is_initialized():
        return compose(config_name="train", overrides=overrides)
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


# ---------------------------------------------------------------------------------- output
def report(
    cfg: DictConfig, scores: dict[str, Any], protocol: dict[str, Any], wall_s: float
) -> dict[str, Any]:
    """Print the table, log to the eval loggers, write metrics.json; return what was written."""
    from cnngan.utils.instantiate import instantiate_list

    result = {k: _plain(v) for k, v in scores.items()}
    result["time/wall_s"] = wall_s
    result["protocol"] = protocol
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    numbers = {
        k: float(v)
        for k, v in result.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    for logger in instantiate_list(cfg.get("logger")):
        logger.log_metrics({f"test/{k}": v for k, v in numbers.items()}, step=0)
        logger.finalize("success")
    print_table(result, protocol)
    log.info("metrics.json written to %s", out_dir)
    return result


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def print_table(result: dict[str, Any], protocol: dict[str, Any]) -> None:
    import rich
    from rich.table import Table

    table = Table(title="GAN metrics", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in [*SCORE_KEYS, *sorted(k for k in result if k.startswith("cas_"))]:
        if key in result and result[key] is not None:
            value = result[key]
            table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    rich.print(table)
    sha = protocol.get("evaluator_sha256") or "?"
    rich.print(
        f"protocol: {protocol.get('evaluator')} features (sha256 {sha[:16]}...), layers "
        f"{protocol.get('feature_layers')}, reference {protocol.get('dataset')}/{protocol['reference']} "
        f"n_real={protocol['n_real']}, n_fake={protocol['n_fake']}, seed {protocol['seed']}"
    )
