"""Side-by-side training-speed benchmark: a plain PyTorch loop against cnngan (`make bench`).

For the classifier (experiment classifier_cnn) and the GAN (experiment gan_dcgan), in ONE
process, three comparisons each (scripts/bench/contenders.py):

  (a) framework cost   cnngan's defaults against the plain loop at the very same settings
                       (memory layout, optimizer implementation, augmentation, EMA): what
                       Lightning, Hydra and the project's bookkeeping cost;
  (b) competent loop   cnngan's defaults against a plain loop with the switches a skilled
                       PyTorch user turns on (channels_last, fused Adam);
  (c) torch defaults   cnngan's defaults against the plain loop with torch's defaults (NCHW,
                       default optimizer implementation), labelled as such.

Each comparison is measured as back-to-back pairs in every round (order alternating, pairs
rotating), so load changes hit both sides of a pair; ratios are medians over rounds with a 95%
confidence interval, for wall-clock and CPU time. Torch threads are pinned (`--threads`). Also:
a torch.profiler table of the GAN iteration, the start-up time of `cnngan-train`, and batched
against per-image augmentation. Everything goes to logs/bench/<timestamp>/results.json, and
`--table <results.json>` writes the README's tables from it.

The plain loop at cnngan's settings does exactly cnngan's work: tests/scripts/test_benchmark.py
checks that both leave equal weights after a few steps.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parent / "src"):  # the bench package; cnngan from a plain checkout
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bench.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
