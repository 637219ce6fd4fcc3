"""Execute the notebooks top to bottom and save the executed copies (with their figures).

    python scripts/run_notebooks.py                 # all of notebooks/*.ipynb -> logs/notebooks/
    python scripts/run_notebooks.py --fast          # the test suite's tiny budgets
    python scripts/run_notebooks.py notebooks/02_gan_training.ipynb

The notebooks read CNNGAN_GAN_RUN, CNNGAN_GAN_CKPT, CNNGAN_CLASSIFIER_CKPT and
CNNGAN_AUGMENT_RESULTS to inspect particular runs (else they use the newest ones under logs/, or
train tiny models themselves). The stored notebooks keep no outputs; only the copies do.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def execute_notebook(
    path: Path, out_dir: Path, cwd: Path, timeout: int = 1200, fast: bool = False
) -> Path:
    """Run a notebook in a fresh kernel (cwd = `cwd`), write the executed copy to out_dir."""
    import nbformat
    from nbclient import NotebookClient

    book = nbformat.read(path, as_version=4)
    env_before = os.environ.get("CNNGAN_NB_FAST")
    os.environ["CNNGAN_NB_FAST"] = "1" if fast else "0"
    try:
        NotebookClient(
            book, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
        ).execute()
    finally:
        if env_before is None:
            os.environ.pop("CNNGAN_NB_FAST", None)
        else:
            os.environ["CNNGAN_NB_FAST"] = env_before
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / path.name
    nbformat.write(book, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "logs" / "notebooks")
    parser.add_argument("--fast", action="store_true", help="tiny budgets (as in the tests)")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per cell")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    for path in notebooks:
        started = time.perf_counter()
        target = execute_notebook(path, args.out, ROOT, args.timeout, args.fast)
        print(f"{path.name}: {time.perf_counter() - started:.0f} s -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
