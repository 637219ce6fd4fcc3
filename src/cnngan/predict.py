"""cnngan-predict: class predictions with probabilities for image files, printed and as CSV.

cnngan-predict ckpt_path=<run>/checkpoints/best.ckpt input=shirt.png
cnngan-predict ckpt_path=<...> input=folder_of_images/ resize=true
"""

from __future__ import annotations

import csv
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig

from cnngan import config_dir

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}


def list_images(input_path: str | Path) -> list[Path]:
    path = Path(input_path)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if files:
            return files
        raise FileNotFoundError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in folder {path}")
    raise FileNotFoundError(f"input={path} is neither an image file nor a folder")


def read_images(files: list[Path], image_shape: tuple[int, int, int], resize: bool) -> torch.Tensor:
    """Decode files to one uint8 batch of `image_shape`, converting grayscale/RGB as the model needs."""
    from torchvision.io import ImageReadMode, decode_image
    from torchvision.transforms.v2.functional import resize as resize_fn

    channels, height, width = image_shape
    mode = ImageReadMode.GRAY if channels == 1 else ImageReadMode.RGB
    images = []
    for file in files:
        try:
            image = decode_image(str(file), mode=mode)
        except RuntimeError as err:
            raise ValueError(f"cannot decode {file} as an image: {err}") from err
        if tuple(image.shape[1:]) != (height, width):
            if not resize:
                raise ValueError(
                    f"{file} is {image.shape[2]}x{image.shape[1]} but the model takes {width}x{height} "
                    "images; pass resize=true to resize it, or give images of the right size."
                )
            image = resize_fn(image, [height, width], antialias=True)
        images.append(image)
    return torch.stack(images)


def predict(cfg: DictConfig) -> list[dict]:
    from cnngan.utils.checkpoint import model_from_checkpoint
    from cnngan.utils.rank import log

    model, stored = model_from_checkpoint(cfg.ckpt_path, cfg.get("model"))
    datamodule = hydra.utils.instantiate({**stored["data"], "data_dir": cfg.paths.data_dir})
    files = list_images(cfg.input)
    images = read_images(files, datamodule.image_shape, cfg.resize)
    names = datamodule.class_names
    rows = []
    with torch.inference_mode():
        for start in range(0, len(files), cfg.batch_size):
            x = datamodule.transform(images[start : start + cfg.batch_size])
            probs = model(x).softmax(dim=1)
            top = probs.topk(min(cfg.top_k, probs.shape[1]), dim=1)
            for i, file in enumerate(files[start : start + cfg.batch_size]):
                row = {"file": str(file)}
                for rank, (p, c) in enumerate(
                    zip(top.values[i], top.indices[i], strict=True), start=1
                ):
                    row[f"class_{rank}"], row[f"prob_{rank}"] = names[int(c)], round(float(p), 5)
                rows.append(row)
    out = Path(cfg.paths.output_dir) / "predictions.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        log.info("%s -> %s (%.3f)", row["file"], row["class_1"], row["prob_1"])
    log.info("predictions written to %s", out)
    return rows


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="predict")
def main(cfg: DictConfig) -> None:
    from cnngan.utils.entry import run_entry

    run_entry(cfg, predict, command="cnngan-predict")


if __name__ == "__main__":
    main()
