"""The disturbance test of the FID paper (Heusel et al. 2017, Fig. 1) for the project's evaluator.

Real test images are disturbed (Gaussian noise, Gaussian blur, salt-and-pepper noise, black
rectangles) at increasing strengths and compared, by FID in the evaluator's feature space, with
real training images. A usable feature space makes FID rise monotonically and clearly with the
strength of every disturbance.

    python scripts/disturbance_test.py                     # writes docs/fid_disturbance.png/.json
    python scripts/disturbance_test.py --compare           # FIDs for several feature-layer choices
    python scripts/disturbance_test.py --n 2000 --out /tmp/d.png

Exits with status 1 when a curve of the protocol layers is not monotonic.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
CANDIDATES = [
    ["penultimate"],
    ["block3"],
    ["block2"],
    ["penultimate", "block3"],
    ["penultimate", "block2", "block3"],
    ["penultimate", "block1", "block2", "block3"],
]


def load_split_images(data_meta: dict, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n training images (the reference) and n test images (to be disturbed), uint8."""
    import hydra
    from omegaconf import OmegaConf

    from cnngan.metrics.samples import reference_images

    datamodule = hydra.utils.instantiate(
        OmegaConf.create({**data_meta, "data_dir": str(REPO / "data")})
    )
    return reference_images(datamodule, "train", n, seed), reference_images(
        datamodule, "test", n, seed
    )


@torch.no_grad()
def layer_outputs(evaluator, images: torch.Tensor, batch: int = 1000) -> dict[str, torch.Tensor]:
    outputs: dict[str, list[torch.Tensor]] = {}
    for start in range(0, len(images), batch):
        found, _ = evaluator.all_layers(images[start : start + batch])
        for name, value in found.items():
            outputs.setdefault(name, []).append(value.double())
    return {name: torch.cat(parts) for name, parts in outputs.items()}


def features(
    outputs: dict[str, torch.Tensor], layers: list[str], scales: dict[str, float]
) -> torch.Tensor:
    scale = (lambda name: scales.get(name, 1.0)) if len(layers) > 1 else (lambda name: 1.0)
    return torch.cat([outputs[name] * scale(name) for name in layers], dim=1)


def run(
    evaluator, real: torch.Tensor, test: torch.Tensor, layer_sets: list[list[str]], seed: int
) -> dict:
    """{"levels": {dist: [...]}, "fid": {layer set: {dist: [fid per level]}}}"""
    from cnngan.metrics.disturbances import LEVELS, disturb
    from cnngan.metrics.functional import fid_from_features

    scales = evaluator.meta.get("features", {}).get("layer_scale_by_name", {})
    ref = layer_outputs(evaluator, real)
    test01 = test.float() / 255.0
    result: dict = {"levels": LEVELS, "fid": {"+".join(ls): {} for ls in layer_sets}}
    for name, levels in LEVELS.items():
        for level in levels:
            disturbed = layer_outputs(evaluator, disturb(test01, name, level, seed=seed))
            for layers in layer_sets:
                fid = fid_from_features(
                    features(ref, layers, scales), features(disturbed, layers, scales)
                )
                result["fid"]["+".join(layers)].setdefault(name, []).append(fid)
            print(
                f"{name:>17} {level:5.2f}  "
                + "  ".join(
                    f"{'+'.join(ls)}={result['fid']['+'.join(ls)][name][-1]:9.3f}"
                    for ls in layer_sets
                ),
                flush=True,
            )
    return result


def monotonic_report(
    fids: dict[str, list[float]], min_ratio: float = 1.05
) -> tuple[bool, list[str]]:
    """Every step must raise FID (by at least min_ratio x from level 1 on); the strongest level
    must be far above the undisturbed one."""
    ok, lines = True, []
    for name, values in fids.items():
        steps = [b > a for a, b in zip(values, values[1:], strict=False)]
        ratios = [b / a for a, b in zip(values[1:], values[2:], strict=False) if a > 0]
        clear = values[-1] > 10 * max(values[0], 1e-9) and all(r >= min_ratio for r in ratios)
        good = all(steps) and clear
        ok &= good
        lines.append(
            f"{name}: {'monotonic' if good else 'NOT monotonic/clear'}: "
            + ", ".join(f"{v:.2f}" for v in values)
        )
    return ok, lines


def plot(result: dict, key: str, out: Path, title: str, example: torch.Tensor, seed: int) -> None:
    """Row 1: FID against strength per disturbance; row 2: one test image at each strength."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cnngan.metrics.disturbances import disturb

    names = list(result["levels"])
    fig, axes = plt.subplots(
        2, len(names), figsize=(4 * len(names), 4.6), gridspec_kw={"height_ratios": [3, 1]}
    )
    for col, name in enumerate(names):
        levels = result["levels"][name]
        ax = axes[0, col]
        ax.plot(levels, result["fid"][key][name], "o-")
        ax.set_title(name.replace("_", " "))
        ax.set_xlabel("sigma (pixels)" if name == "gaussian_blur" else "strength")
        ax.set_ylabel("FID")
        ax.grid(alpha=0.3)
        strip = torch.cat([disturb(example, name, level, seed=seed)[0] for level in levels], dim=-1)
        axes[1, col].imshow(strip.permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray", vmin=0, vmax=1)
        axes[1, col].set_axis_off()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    from cnngan.core.json_safe import write_json
    from cnngan.metrics.evaluator import load_evaluator

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--evaluator", default="fashion_mnist", help="shipped name or .pt path")
    parser.add_argument("--n", type=int, default=5000, help="images per side")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--compare", action="store_true", help="also score other feature-layer choices"
    )
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "fid_disturbance.png")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    evaluator = load_evaluator(args.evaluator)
    protocol = list(evaluator.layers)
    layer_sets = [protocol] + ([c for c in CANDIDATES if c != protocol] if args.compare else [])
    real, test = load_split_images(evaluator.meta["data"], args.n, args.seed)
    result = run(evaluator, real, test, layer_sets, args.seed)
    key = "+".join(protocol)
    verdicts = {}
    for layers in layer_sets:
        ok, lines = monotonic_report(result["fid"]["+".join(layers)])
        verdicts["+".join(layers)] = ok
        print(f"\n[{'+'.join(layers)}] {'PASS' if ok else 'FAIL'}\n  " + "\n  ".join(lines))
    result.update(
        evaluator=args.evaluator,
        evaluator_sha256=evaluator.sha256,
        protocol_layers=protocol,
        n_per_side=args.n,
        reference="train split (random subset)",
        disturbed="test split",
        seed=args.seed,
        verdicts=verdicts,
    )
    title = (
        f"FID vs disturbance: evaluator {Path(args.evaluator).stem} ({key}, sha256 {evaluator.sha256[:12]}), "
        f"{args.n} train vs {args.n} disturbed test images"
    )
    plot(result, key, args.out, title, test[:1].float() / 255.0, args.seed)
    write_json(args.out.with_suffix(".json"), result)
    print(f"\nwrote {args.out} and {args.out.with_suffix('.json')}")
    sys.exit(0 if verdicts[key] else 1)


if __name__ == "__main__":
    main()
