"""Make sure a dataset is present before training: `python -m cnngan.data.fetch fashion_mnist`.

Finds the data where the data module would (data dir, Debian package, torchvision download) and
prints where it came from. With `--install-package` (what `make data` passes), Fashion-MNIST that
is nowhere to be found is installed from Debian's `dataset-fashion-mnist` package when this machine
can do that without asking (root or passwordless sudo, and apt-get present), saying what it runs.
Otherwise it exits with status 2 and the message that names every way to get the data.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

from cnngan.data.sources import SOURCES, CorruptDataError, DataNotFoundError, ImageArrays

DEBIAN_PACKAGES = {"fashion_mnist": "dataset-fashion-mnist"}


def apt_prefix() -> list[str] | None:
    """The command prefix that runs apt-get without a password prompt, or None if there is none."""
    if shutil.which("apt-get") is None:
        return None
    if os.geteuid() == 0:
        return []
    if (
        shutil.which("sudo")
        and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0
    ):
        return ["sudo", "-n"]
    return None


def install_debian_package(package: str) -> bool:
    """apt-get install the package (apt-get update and retry once if the index is stale)."""
    prefix = apt_prefix()
    if prefix is None:
        return False
    install = [*prefix, "apt-get", "install", "-y", package]
    print(f"installing the data from Debian: {' '.join(install)}", file=sys.stderr)
    if subprocess.run(install).returncode == 0:
        return True
    subprocess.run([*prefix, "apt-get", "update"])
    return subprocess.run(install).returncode == 0


def load(name: str, data_dir: str, install_package: bool) -> ImageArrays:
    try:
        return SOURCES[name](data_dir)
    except DataNotFoundError:
        package = DEBIAN_PACKAGES.get(name)
        if not (install_package and package and install_debian_package(package)):
            raise
    return SOURCES[name](data_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", choices=sorted(SOURCES))
    parser.add_argument("--data-dir", default="data")
    parser.add_argument(
        "--install-package",
        action="store_true",
        help="install the Debian data package when the data is missing and apt-get can run",
    )
    args = parser.parse_args(argv)
    try:
        arrays = load(args.name, args.data_dir, args.install_package)
    except (DataNotFoundError, CorruptDataError) as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    print(
        f"{args.name}: {len(arrays.train_y)} train / {len(arrays.test_y)} test images of shape "
        f"{list(arrays.train_x.shape[1:])}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
