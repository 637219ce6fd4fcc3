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

Each comparison is measured as a pair in every round (order alternating, pairs rotating); a
cnngan/plain pair runs in one process in interleaved blocks of steps (bench/interleave.py), so a
change of load hits both sides alike. A ratio's estimate is the geometric mean over rounds with
its 95% t-interval on log ratios, for wall-clock and CPU time, checked against the +/-0.03 the
3% goal needs ("resolved" or not). Torch threads are pinned (`--threads`). Also: the distance to
the limit (each step's counted FLOPs per second against a large matmul's and convolution's,
timed in the same run), a torch.profiler table of the GAN iteration, the start-up time of
`cnngan-train`, and batched against per-image augmentation. `--quick` is a smoke run, `--full`
(`make bench`) what docs/speed.md reports; the run prints its expected duration first. Everything
goes to logs/bench/<timestamp>/results.json, and `--table <results.json>` writes docs/speed.md's
tables from it.

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
