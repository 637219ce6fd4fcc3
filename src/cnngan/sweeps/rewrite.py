"""python -m cnngan.sweeps.rewrite <sweep dir>: (re)write the summary of a sweep, e.g. one that was
interrupted.

Every multirun (grid or Optuna, any launcher) ends with `summary.json` and `summary.md` in its
sweep dir (the `SweepSummary` Hydra callback, cnngan/sweeps/hydra_callback.py): the best job (one
metric) or the Pareto front (several), and a table of all jobs (status, swept parameters,
objective, test metrics). Metric(s), direction(s) and the Optuna study are read from the sweep's
multirun.yaml; --metric / --direction override them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from cnngan.sweeps.markdown import summary_markdown
from cnngan.sweeps.summary import summary_kwargs, write_summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="(Re)write the summary of a sweep.")
    parser.add_argument("sweep_dir")
    parser.add_argument("--metric", nargs="+", help="optimized metric(s) (default: the config's)")
    parser.add_argument("--direction", nargs="+", choices=("maximize", "minimize"))
    args = parser.parse_args(argv)
    sweep_dir = Path(args.sweep_dir)
    kwargs: dict[str, Any] = {}
    if (sweep_dir / "multirun.yaml").is_file():
        kwargs = summary_kwargs(OmegaConf.load(sweep_dir / "multirun.yaml"))
    for key in ("metric", "direction"):
        value = getattr(args, key)
        if value:
            kwargs[key] = value[0] if len(value) == 1 else value
    print(summary_markdown(write_summary(sweep_dir, **kwargs)))


if __name__ == "__main__":
    main(sys.argv[1:])
