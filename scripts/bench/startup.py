"""Start-up: seconds from process start to the first optimizer step of a real `cnngan-train` run
(its own callbacks, logger, config printing), read from the line the first_step_timer callback
prints; the process is stopped there."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.contenders import REPO, TASKS


def run_startup(
    task: str, runs: int, out_dir: Path, data: str | None, timeout: float
) -> dict[str, Any]:
    from cnngan.callbacks.timing import MARKER

    t = TASKS[task]
    cmd = [sys.executable, "-m", "cnngan.train", f"experiment={t.experiment}"]
    cmd += [f"callbacks=[{t.callbacks},first_step_timer]", f"paths.root_dir={REPO}"]
    cmd += [f"paths.log_dir={out_dir / 'startup'}"] + ([f"data={data}"] if data else [])
    src = str(REPO / "src")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p),
    }
    found = []
    for _ in range(runs):
        seconds, tail = first_step_seconds(cmd, env, MARKER, timeout)
        if seconds is None:
            return {"error": tail, "command": " ".join(cmd[1:])}
        found.append(seconds)
        print(f"  [{task} start-up] {seconds:.2f} s to the first optimizer step", flush=True)
    return {"startup_s": statistics.median(found), "runs_s": found, "command": " ".join(cmd[1:])}


def first_step_seconds(
    cmd: list[str], env: dict[str, str], marker: str, timeout: float
) -> tuple[float | None, str]:
    """Start cmd, wait for `marker <seconds>` on its output, stop it; (seconds, last output)."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    try:
        for line in proc.stdout:
            lines = (lines + [line])[-40:]
            if line.startswith(marker):
                return float(line[len(marker) :].strip()), ""
            if time.monotonic() > deadline:
                break
        return None, "".join(lines)[-3000:]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
