"""Make sure a dataset is present before training: `python -m cnngan.data.fetch fashion_mnist`.

Finds the data where the data module would (data dir, Debian package, torchvision download) and
prints where it came from, or exits with the message that names every way to get it.
"""

from __future__ import annotations

import argparse
import sys

from cnngan.data.sources import SOURCES, CorruptDataError, DataNotFoundError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", choices=sorted(SOURCES))
    parser.add_argument("--data-dir", default="data")
    args = parser.parse_args(argv)
    try:
        arrays = SOURCES[args.name](args.data_dir)
    except (DataNotFoundError, CorruptDataError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(
        f"{args.name}: {len(arrays.train_y)} train / {len(arrays.test_y)} test images of shape "
        f"{list(arrays.train_x.shape[1:])}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
