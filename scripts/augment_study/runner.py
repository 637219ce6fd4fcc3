"""Running the stages: each command printed, saved in commands.txt, its output in logs/<stage>.log,
its wall time in timings.json."""

from __future__ import annotations

import json
import shlex
import shutil
import time
from pathlib import Path

from run_logged import run_logged

from augment_study.stages import Stage


class StageFailed(RuntimeError):
    """A stage's multirun exited with an error (some of its runs failed)."""


def record_time(out: Path, name: str, seconds: float, runs: int) -> None:
    path = out / "timings.json"
    timings = json.loads(path.read_text()) if path.is_file() else {}
    timings[name] = {"wall_s": round(seconds, 1), "runs": runs}
    path.write_text(json.dumps(timings, indent=2) + "\n")


def clear_unfinished(stage: Stage) -> None:
    """Remove the checkpoints of runs that were stopped before their metrics.json: a rerun would
    else save best-v1.ckpt next to a stale best.ckpt, which the next stage would read."""
    for run in stage.runs:
        folder = run / "checkpoints"
        if folder.is_dir() and not (run / "metrics.json").is_file():
            shutil.rmtree(folder)
            print(f"  removed the checkpoints of the unfinished run {run}", flush=True)


def run_stage(stage: Stage, out: Path, dry_run: bool = False) -> None:
    """Run one stage's command; raise StageFailed (naming its log) when it fails."""
    line = shlex.join(stage.command)
    print(f"+ [{stage.name}: {len(stage.runs)} runs] {line}", flush=True)
    with (out / "commands.txt").open("a") as f:
        f.write(line + "\n")
    if dry_run:
        return
    clear_unfinished(stage)
    log_file = out / "logs" / f"{stage.name}.log"
    started = time.perf_counter()
    code = run_logged(stage.command, log_file, append=True, check=False, echo=False)
    seconds = time.perf_counter() - started
    record_time(out, stage.name, seconds, len(stage.runs))
    print(f"  exit {code} after {seconds:.0f} s (log: {log_file})", flush=True)
    if code != 0:
        raise StageFailed(
            f"stage {stage.name} failed (exit {code}); see {log_file}. Runs that finished keep "
            "their metrics.json: fix the cause and rerun the same command to resume"
        )
