"""Train the GAN metrics' evaluator network with cnngan-train and export it.

    python scripts/train_evaluator.py                         # Fashion-MNIST (what `make evaluator` runs)
    python scripts/train_evaluator.py --data mnist            # recipe conf/experiment/evaluator_mnist.yaml
    python scripts/train_evaluator.py --ckpt <best.ckpt>      # export an already trained checkpoint
    python scripts/train_evaluator.py --install               # replace the shipped evaluator
    python scripts/train_evaluator.py -- trainer.accelerator=gpu   # extra overrides for cnngan-train

Steps: (1) `cnngan-train experiment=evaluator_<data>` (fixed seed and config) into
logs/evaluator/<data>/<time>/; (2) copy the net's weights to <data>.pt in that run's `export/`
folder (or --out); (3) measure the test accuracy of the exported file without Lightning and refuse
to export below --min-acc; (4) measure the per-layer scales of the chosen feature layers on the
training split; (5) write <data>.json with the sha256, the accuracy, the net config, the
normalization, the data config and the feature protocol.

The shipped evaluators (src/cnngan/metrics/weights/) are replaced only with --install: every FID
in the docs was measured with them, and a retrained file has other bits (another sha256), so the
scores of the two are not comparable.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
WEIGHTS_DIR = REPO / "src" / "cnngan" / "metrics" / "weights"
# the feature layers of the official protocol; see docs in the JSON and README (disturbance test)
DEFAULT_LAYERS = {
    "digits": ["penultimate"],
    "fashion_mnist": ["penultimate"],
    "mnist": ["penultimate"],
    "cifar10": ["penultimate"],
}
MIN_ACC = {"digits": 0.95, "fashion_mnist": 0.93, "mnist": 0.99, "cifar10": 0.85}


def train(data: str, run_dir: Path, overrides: list[str]) -> Path:
    command = [
        sys.executable,
        "-m",
        "cnngan.train",
        f"experiment=evaluator_{data}",
        f"hydra.run.dir={run_dir}",
        "callbacks.rich_progress_bar=null",
        "extras.print_config=false",
        *overrides,
    ]
    print("running:", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=REPO)
    ckpt = run_dir / "checkpoints" / "best.ckpt"
    if not ckpt.is_file():
        raise SystemExit(f"training finished without {ckpt}")
    return ckpt


def net_state(checkpoint: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The `net.` entries of a Lightning state dict, contiguous float CPU tensors."""
    state = {
        k[len("net.") :]: v for k, v in checkpoint["state_dict"].items() if k.startswith("net.")
    }
    if not state:
        raise SystemExit(
            "the checkpoint has no net.* weights; is it an ImageClassifier checkpoint?"
        )
    return {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}


@torch.no_grad()
def test_accuracy(
    evaluator: Any, images: torch.Tensor, labels: torch.Tensor, batch: int = 1000
) -> float:
    correct = 0
    for start in range(0, len(images), batch):
        logits = evaluator.logits(images[start : start + batch])
        correct += int((logits.argmax(1) == labels[start : start + batch]).sum())
    return correct / len(images)


@torch.no_grad()
def layer_scales(
    evaluator: Any, images: torch.Tensor, layers: list[str], batch: int = 1000
) -> dict[str, float]:
    """1 / RMS per-dimension standard deviation of each layer on `images`: after scaling, every
    layer contributes about equally per dimension to distances and FID."""
    found: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
    for start in range(0, len(images), batch):
        outputs, _ = evaluator.all_layers(images[start : start + batch])
        for name in layers:
            found[name].append(outputs[name].double())
    scales = {}
    for name, parts in found.items():
        std = torch.cat(parts).std(dim=0)
        scales[name] = float(1.0 / std.square().mean().sqrt())
    return scales


def export(
    ckpt: Path, data: str, layers: list[str], min_acc: float, out_dir: Path, command: str
) -> dict[str, Any]:
    import hydra
    from omegaconf import OmegaConf

    from cnngan.checkpoints.files import checkpoint_config, load_checkpoint
    from cnngan.data.normalization import normalization_stats
    from cnngan.metrics.evaluator import PENULTIMATE, Evaluator, sha256_file
    from cnngan.nets.cnn import ConvNet

    checkpoint = load_checkpoint(ckpt)
    config = checkpoint_config(checkpoint)
    net_cfg = {k: v for k, v in config["model"]["net"].items() if not k.startswith("_")}
    if config["model"]["net"].get("_target_") != "cnngan.nets.ConvNet":
        raise SystemExit(
            "the evaluator must be a cnngan.nets.ConvNet (the loader rebuilds that class)"
        )
    state = net_state(checkpoint)
    net = ConvNet(**net_cfg)
    net.load_state_dict(state)
    data_cfg = {k: v for k, v in config["data"].items() if k != "data_dir"}
    mean, std = normalization_stats(data_cfg["normalize"], int(data_cfg["image_shape"][0]))
    normalize = {"mean": mean, "std": std}

    datamodule = hydra.utils.instantiate(
        OmegaConf.create({**config["data"], "data_dir": str(REPO / "data")})
    )
    datamodule.prepare_data()
    datamodule.setup("fit")
    arrays = datamodule.arrays
    all_names = [PENULTIMATE] + [f"block{i + 1}" for i in range(len(net_cfg["channels"]))]
    probe = Evaluator(
        net,
        normalize["mean"],
        normalize["std"],
        layers=all_names,
        meta={"image_shape": data_cfg["image_shape"]},
    )
    acc = test_accuracy(probe, arrays.test_x, arrays.test_y)
    print(f"test accuracy of the exported net: {acc:.4f}", flush=True)
    if acc < min_acc:
        raise SystemExit(f"test accuracy {acc:.4f} < required {min_acc}: not exported")
    scales_by_name = layer_scales(probe, datamodule.train_set.images[:10000], all_names)
    scales = [scales_by_name[n] for n in layers] if len(layers) > 1 else [1.0]

    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / f"{data}.pt"
    torch.save(state, weights)
    meta = {
        "name": data,
        "file": weights.name,
        "sha256": sha256_file(weights),
        "size_bytes": weights.stat().st_size,
        "test_acc": round(acc, 6),
        "num_params": sum(v.numel() for v in state.values()),
        "net": net_cfg,
        "normalize": normalize,
        "data": data_cfg,
        "input": "uint8 in [0, 255] or floats in [0, 1], (N, C, H, W); the evaluator normalizes",
        "features": {
            "layers": layers,
            "layer_scales": scales,
            # 1 / RMS per-dimension std on 10k training images, for combinations of layers
            "layer_scale_by_name": scales_by_name,
            "pooling": "block<i>: mean over space of the i-th conv block's output; penultimate: input of the last linear layer",
            "logits": "the classifier's last layer (Inception Score, mode coverage)",
        },
        "training": {
            "experiment": f"evaluator_{data}",
            "command": command,
            "seed": config.get("seed"),
            "max_epochs": config["trainer"]["max_epochs"],
            "checkpoint_val_acc": _val_acc(checkpoint),
            "torch": torch.__version__,
            "machine": f"{platform.machine()} {platform.system()}",
            "exported": time.strftime("%Y-%m-%d"),
        },
    }
    (out_dir / f"{data}.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {weights} ({meta['size_bytes'] / 1e6:.2f} MB, sha256 {meta['sha256']})")
    return meta


def _val_acc(checkpoint: dict[str, Any]) -> float | None:
    for state in checkpoint.get("callbacks", {}).values():
        if (
            isinstance(state, dict)
            and "best_model_score" in state
            and state["best_model_score"] is not None
        ):
            return round(float(state["best_model_score"]), 6)
    return None


def export_folder(args: argparse.Namespace, run_dir: Path) -> Path:
    """Where the export goes: the shipped weights only with --install, else --out or the run's
    `export/` folder under logs/."""
    if args.install:
        return WEIGHTS_DIR
    out = args.out or run_dir / "export"
    if out.resolve() == WEIGHTS_DIR.resolve():
        print(
            f"train_evaluator: error: --out {out} is the shipped evaluators' folder; pass --install "
            "to replace them (FIDs measured with the old file become incomparable)",
            file=sys.stderr,
        )
        sys.exit(2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="fashion_mnist", choices=sorted(DEFAULT_LAYERS))
    parser.add_argument("--ckpt", type=Path, help="export this checkpoint instead of training")
    parser.add_argument(
        "--run-dir",
        type=Path,
        help="where cnngan-train writes (default logs/evaluator/<data>/<time>)",
    )
    parser.add_argument(
        "--layers", nargs="+", help="feature layers (default: the dataset's protocol)"
    )
    parser.add_argument("--min-acc", type=float, help="refuse to export below this test accuracy")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--out", type=Path, help="export folder (default <run dir>/export)")
    target.add_argument(
        "--install",
        action="store_true",
        help=f"export into {WEIGHTS_DIR.relative_to(REPO)}, replacing the shipped evaluator",
    )
    parser.add_argument("--note", help="recorded with the command, e.g. the machine it ran on")
    parser.add_argument("overrides", nargs="*", help="extra cnngan-train overrides (after --)")
    args = parser.parse_args()
    # re-runnable as recorded: quoted, and --note (the machine) is among the arguments
    command = "python scripts/train_evaluator.py " + shlex.join(sys.argv[1:])
    if args.ckpt is not None:  # trained separately: record the recipe, then this export
        command = f"cnngan-train experiment=evaluator_{args.data}; then {command}"
    run_dir = args.run_dir or REPO / "logs" / "evaluator" / args.data / time.strftime(
        "%Y-%m-%d_%H-%M-%S"
    )
    out = export_folder(args, run_dir)
    ckpt = args.ckpt if args.ckpt is not None else train(args.data, run_dir, args.overrides)
    layers = args.layers or DEFAULT_LAYERS[args.data]
    min_acc = args.min_acc if args.min_acc is not None else MIN_ACC[args.data]
    export(ckpt, args.data, layers, min_acc, out, command)
    if not args.install:
        print(f"exported to {out}; the shipped evaluator is unchanged (replace it: add --install)")


if __name__ == "__main__":
    main()
