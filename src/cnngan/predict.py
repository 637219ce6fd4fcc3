"""cnngan-predict: class predictions with probabilities for image files, printed and as CSV.

cnngan-predict ckpt_path=<run>/checkpoints/best.ckpt input=shirt.png
cnngan-predict ckpt_path=<...> input=folder_of_images/ resize=true

Gray and RGB files are converted to the model's channel count; a file of another size is resized
with resize=true and refused otherwise (exit status 2, with the fix in the message).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig

from cnngan import config_dir
from cnngan.checkpoints.model import load_model, stored_data_config
from cnngan.core.errors import require_positive
from cnngan.core.image_io import read_image_input
from cnngan.core.rank import log
from cnngan.data.datamodule import ImageDataModule
from cnngan.models import ImageClassifier


def load_classifier(cfg: DictConfig) -> tuple[ImageClassifier, ImageDataModule]:
    """The classifier in `cfg.ckpt_path` and its data module (shape, class names, normalization)."""
    model, stored = load_model(
        cfg.ckpt_path, ImageClassifier, "cnngan-predict", overrides=cfg.get("model")
    )
    datamodule = hydra.utils.instantiate(stored_data_config(stored, cfg.paths.data_dir))
    return model, datamodule


def top_classes(probs: torch.Tensor, k: int, names: list[str]) -> list[dict[str, Any]]:
    """Per image: class_1, prob_1, ..., class_k, prob_k (most likely first)."""
    top = probs.topk(min(k, probs.shape[1]), dim=1)
    rows = []
    for values, indices in zip(top.values, top.indices, strict=True):
        row: dict[str, Any] = {}
        for rank, (p, c) in enumerate(zip(values, indices, strict=True), start=1):
            row[f"class_{rank}"], row[f"prob_{rank}"] = names[int(c)], round(float(p), 5)
        rows.append(row)
    return rows


def write_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def predict(cfg: DictConfig) -> list[dict[str, Any]]:
    """One row per image file: its path and its top_k classes with probabilities."""
    top_k, batch_size = (require_positive(name, cfg[name]) for name in ("top_k", "batch_size"))
    model, datamodule = load_classifier(cfg)
    files, images = read_image_input(cfg.input, datamodule.image_shape, cfg.resize)
    rows = []
    with torch.inference_mode():
        for start in range(0, len(files), batch_size):
            x = datamodule.transform(images[start : start + batch_size])
            top = top_classes(model(x).softmax(dim=1), top_k, datamodule.class_names)
            batch_files = files[start : start + batch_size]
            rows += [{"file": str(f), **row} for f, row in zip(batch_files, top, strict=True)]
    out = write_csv(rows, Path(cfg.paths.output_dir) / "predictions.csv")
    for row in rows:
        log.info("%s -> %s (%.3f)", row["file"], row["class_1"], row["prob_1"])
    log.info("predictions written to %s", out)
    return rows


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="predict")
def main(cfg: DictConfig) -> None:
    from cnngan.run.entry import run_entry

    run_entry(cfg, predict, command="cnngan-predict")


if __name__ == "__main__":
    main()
