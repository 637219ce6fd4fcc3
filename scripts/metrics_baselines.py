"""Write the floor and ceiling "generators" of the GAN metrics table as sample files, to be scored
by `cnngan-eval samples_path=...` exactly like images of any other program:

- real_train.pt: N real training images (the floor: what a perfect generator would score against
  the test split; nonzero only because of finite samples);
- uniform_noise.pt: N images of uniform noise in [0, 1] (the ceiling).

    python scripts/metrics_baselines.py --out logs/baselines
    cnngan-eval samples_path=logs/baselines/real_train.pt
    cnngan-eval samples_path=logs/baselines/uniform_noise.pt
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    from cnngan.data import ImageDataModule
    from cnngan.metrics.samples import reference_images

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=REPO / "logs" / "baselines")
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=str(REPO / "data"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    dm = ImageDataModule("fashion_mnist", args.data_dir, [1, 28, 28], 10)
    train = reference_images(dm, "train", args.n, seed=args.seed + 1)  # not the eval seed's subset
    torch.save(train.clone(), args.out / "real_train.pt")
    noise = torch.rand(
        (args.n, *train.shape[1:]), generator=torch.Generator().manual_seed(args.seed)
    )
    torch.save(noise, args.out / "uniform_noise.pt")
    print(
        f"wrote {args.out / 'real_train.pt'} (uint8 {tuple(train.shape)}) and {args.out / 'uniform_noise.pt'}"
    )


if __name__ == "__main__":
    main()
