"""GAN data augmentation study: test accuracy of the classifier trained on k real images per
class, without and with synthetic images of a conditional GAN trained on the same k images.

For every k it trains one conditional GAN (experiment=augment_gan), then for every seed two
classifiers (experiment=augment_classifier, synthetic ratio 0 and `--ratio`), each with the same
budget. Every step is a plain `cnngan-train` command (printed, and saved in commands.txt); runs
that already have their output are skipped, so an interrupted study resumes where it stopped.
Writes results.csv (one row per run) and results.md (mean and sample std over seeds, and the
paired difference synthetic - real per seed) to --out.

    python scripts/augmentation_study.py                        # the full grid (hours on a CPU)
    python scripts/augmentation_study.py --k 10 100 --gan-steps 1000 --clf-epochs 6   # reduced
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

QUIET = ["extras.print_config=false", "callbacks.rich_progress_bar=null"]


def train_command(overrides: list[str]) -> list[str]:
    exe = Path(sys.executable).with_name("cnngan-train")
    return [str(exe) if exe.exists() else "cnngan-train", *overrides, *QUIET]


def run(command: list[str], log_file: Path, commands_file: Path, dry_run: bool) -> None:
    line = " ".join(shlex.quote(c) for c in command)
    print("+", line, flush=True)
    with commands_file.open("a") as f:
        f.write(line + "\n")
    if dry_run:
        return
    log_file.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with log_file.open("w") as log:
        code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT)
    print(
        f"  exit {code} after {time.perf_counter() - started:.0f} s (log: {log_file})", flush=True
    )
    if code != 0:
        raise SystemExit(f"command failed with exit code {code}; see {log_file}")


def gan_overrides(k: str, out: Path, steps: int) -> list[str]:
    return [
        "experiment=augment_gan",
        f"data.k_per_class={k}",
        f"trainer.max_steps={steps}",
        "test=false",
        "+trainer.limit_val_batches=0",
        f"hydra.run.dir={out / 'gans' / f'k{k}'}",
    ]


def classifier_overrides(
    k: str, ratio: float, seed: int, out: Path, epochs: int, run_dir: Path
) -> list[str]:
    return [
        "experiment=augment_classifier",
        f"data.k_per_class={k}",
        f"data.synthetic.ratio={ratio}",
        f"seed={seed}",
        f"trainer.max_epochs={epochs}",
        f"augment_gan_dir={out / 'gans'}",
        f"hydra.run.dir={run_dir}",
    ]


def mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{100 * values[0]:.2f}"
    return f"{100 * statistics.mean(values):.2f} ± {100 * statistics.stdev(values):.2f}"


def write_tables(rows: list[dict], out: Path, ratio: float, args: argparse.Namespace) -> None:
    with (out / "results.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["k", "ratio", "seed", "test_acc", "run_dir"])
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        f"Test accuracy (%) on the Fashion-MNIST test split (10,000 images), mean ± sample std over "
        f"seeds; classifier: default CNN, {args.clf_epochs} epochs x 5,120 samples; conditional "
        f"DCGAN per k: {args.gan_steps} iterations; synthetic ratio {ratio:g} "
        f"(synthetic per real image in the batches). Extra GAN overrides: "
        f"{' '.join(args.gan_extra) or 'none'}; extra classifier overrides: "
        f"{' '.join(args.clf_extra) or 'none'}.",
        "",
        "| k per class | real only | real + synthetic | difference (paired by seed) | seeds |",
        "|---|---|---|---|---|",
    ]
    for k in args.k:
        real = {r["seed"]: r["test_acc"] for r in rows if r["k"] == k and r["ratio"] == 0}
        syn = {r["seed"]: r["test_acc"] for r in rows if r["k"] == k and r["ratio"] == ratio}
        paired = [syn[s] - real[s] for s in real if s in syn]
        lines.append(
            f"| {k} | {mean_std(list(real.values()))} | {mean_std(list(syn.values()))} | "
            f"{mean_std(paired)} | {len(paired)} |"
        )
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--k", nargs="+", default=["10", "100", "1000", "all"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--ratio", type=float, default=1.0)
    parser.add_argument("--gan-steps", type=int, default=3000)
    parser.add_argument("--clf-epochs", type=int, default=10)
    parser.add_argument(
        "--gan-extra", nargs="*", default=[], help="extra overrides of the GAN runs"
    )
    parser.add_argument(
        "--clf-extra", nargs="*", default=[], help="extra overrides of the classifier runs"
    )
    parser.add_argument("--out", type=Path, default=Path("logs/augment/study"))
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    commands = out / "commands.txt"
    os.environ.setdefault("OMP_NUM_THREADS", str(min(4, os.cpu_count() or 1)))
    rows: list[dict] = []
    for k in args.k:
        gan_ckpt = out / "gans" / f"k{k}" / "checkpoints" / "last.ckpt"
        if not gan_ckpt.is_file():
            run(
                train_command(gan_overrides(k, out, args.gan_steps) + args.gan_extra),
                out / "logs" / f"gan_k{k}.log",
                commands,
                args.dry_run,
            )
        for seed in args.seeds:
            for ratio in (0.0, args.ratio):
                run_dir = out / "classifiers" / f"k{k}_ratio{ratio:g}_seed{seed}"
                metrics = run_dir / "metrics.json"
                if not metrics.is_file():
                    overrides = (
                        classifier_overrides(k, ratio, seed, out, args.clf_epochs, run_dir)
                        + args.clf_extra
                    )
                    run(
                        train_command(overrides),
                        out / "logs" / f"{run_dir.name}.log",
                        commands,
                        args.dry_run,
                    )
                if metrics.is_file():
                    acc = json.loads(metrics.read_text())["test/acc"]
                    rows.append(
                        {
                            "k": k,
                            "ratio": ratio,
                            "seed": seed,
                            "test_acc": acc,
                            "run_dir": str(run_dir),
                        }
                    )
            write_tables(rows, out, args.ratio, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
