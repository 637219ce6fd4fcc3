"""Running one `cnngan-train` / `cnngan-eval` command with its output in a log file, shared by the
study scripts (recipe_trials.py, pruning_study.py, augment_study/). Imported as `run_logged`:
`python scripts/<x>.py` has scripts/ on sys.path, as do the tests that import these scripts."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path

# overrides that keep a run's log short: no config dump (any cnngan command) ...
QUIET = ["extras.print_config=false"]
# ... and, for cnngan-train, no rich progress bar (its redraws flood a log file)
TRAIN_QUIET = [*QUIET, "callbacks.rich_progress_bar=null"]


def run_logged(
    command: Sequence[str],
    log_file: Path,
    *,
    append: bool = False,
    check: bool = True,
    echo: bool = True,
) -> int:
    """Run `command` with stdout and stderr into `log_file` (its folder created; overwritten, or
    appended to with `append`, so that a resumed stage keeps the log of its earlier tries).

    Prints the command first (`+ cmd`, shell-quoted) unless `echo` is false. Returns the exit
    code; with `check`, a non-zero one raises subprocess.CalledProcessError instead."""
    if echo:
        print("+", shlex.join(command), flush=True)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("a" if append else "w") as log:
        return subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=check).returncode
