#!/usr/bin/env bash
# The GPU check (docs/gpu.md): on a machine with a CUDA device and the project installed
# (make install; Fashion-MNIST present: make data), in at most about 8 minutes on one GPU:
#   1. the tests marked gpu (tests/gpu/): trainer=gpu classifier and GAN, precision=auto,
#      channels_last + fused optimizers, exact resume with the CUDA generator, NCCL DDP (2 GPUs)
#   2. make train with trainer=gpu (3 epochs of the default classifier on Fashion-MNIST)
#   3. the default GAN (experiment=gan_dcgan) for GAN_ITERATIONS iterations
#   4. the framework-cost benchmark (scripts/benchmark.py, cnngan against a plain loop) on the GPU
# and writes everything it measured into one file, <results>/gpu_check.json (results: $OUT when
# set, else the run's folder logs/gpu_check/<time>/). Each stage has its own time limit; a stage
# that fails is recorded and the others still run; the exit status is 0 only when all passed.
#   bash scripts/gpu_check.sh          # or: make gpu-check
# Without a CUDA device it stops at once with exit status 2.
set -uo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=$(command -v python3)
BIN=$(dirname "$PY")
GAN_ITERATIONS=${GAN_ITERATIONS:-3000}
if ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  echo "gpu_check: no CUDA device: torch.cuda.is_available() is False here (CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES-unset})." >&2
  echo "gpu_check: run it on a machine with an NVIDIA GPU, its driver and a CUDA build of torch (docs/gpu.md)." >&2
  exit 2
fi

WORK=logs/gpu_check/$(date +%Y-%m-%d_%H-%M-%S)
RESULTS=${OUT:-$WORK}
mkdir -p "$WORK" "$RESULTS"

STAGES="$RESULTS/stages.tsv"
: > "$STAGES"
# stage NAME SECONDS COMMAND...: run COMMAND with a time limit; its output goes to NAME.log
stage() {
  local name=$1 limit=$2
  shift 2
  echo "== $name (at most ${limit} s): $*"
  local start=$SECONDS
  timeout --kill-after=10 "$limit" "$@" > "$RESULTS/$name.log" 2>&1
  local rc=$?
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$((SECONDS - start))" "$*" >> "$STAGES"
  echo "   exit status $rc after $((SECONDS - start)) s (log: $RESULTS/$name.log)"
}

QUIET="extras.print_config=false callbacks.rich_progress_bar=null"
stage tests 210 "$PY" -m pytest -p no:cacheprovider -m gpu tests/gpu -rs -q \
  --junitxml="$RESULTS/tests.xml"
stage train 75 make train ARGS="trainer=gpu trainer.max_epochs=3 $QUIET paths.log_dir=$WORK/train"
stage gan 105 "$BIN/cnngan-train" experiment=gan_dcgan trainer=gpu \
  trainer.max_steps="$GAN_ITERATIONS" $QUIET paths.log_dir="$WORK/gan"
stage bench 90 "$PY" scripts/benchmark.py --quick --comparisons framework,bf16-if-native \
  --steps 100 --rounds 3 --out "$WORK/bench"

"$PY" - "$RESULTS" "$WORK" <<'EOF'
"""Collect every stage's numbers into gpu_check.json."""
import json
import sys
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import torch

results, work = Path(sys.argv[1]), Path(sys.argv[2])


def newest(pattern: str) -> dict | None:
    found = sorted(work.glob(pattern), key=lambda p: p.stat().st_mtime)
    return json.loads(found[-1].read_text()) if found else None


def tests() -> dict:
    xml = results / "tests.xml"
    if not xml.exists():
        return {}
    suite = ET.parse(xml).getroot()
    suite = suite if suite.tag == "testsuite" else suite[0]
    cases = {}
    for case in suite.iter("testcase"):
        outcome = next((c.tag for c in case if c.tag in ("failure", "error", "skipped")), "passed")
        cases[f"{case.get('classname')}::{case.get('name')}"] = {
            "outcome": outcome,
            "seconds": float(case.get("time", 0)),
        }
    return cases


stages = {}
for line in (results / "stages.tsv").read_text().splitlines():
    name, rc, seconds, command = line.split("\t", 3)
    stages[name] = {"exit_status": int(rc), "seconds": int(seconds), "command": command}
props = torch.cuda.get_device_properties(0)
report = {
    "date": datetime.now().astimezone().isoformat(timespec="seconds"),
    "device": {
        "name": props.name,
        "capability": f"{props.major}.{props.minor}",
        "memory_gib": round(props.total_memory / 2**30, 1),
        "count": torch.cuda.device_count(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
    },
    "stages": stages,
    "tests": tests(),
    "train_metrics": newest("train/**/metrics.json"),
    "gan_metrics": newest("gan/**/metrics.json"),
    "bench": newest("bench/*/results.json"),
}
(results / "gpu_check.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
failed = [n for n, s in stages.items() if s["exit_status"] != 0]
print(f"gpu_check: {results / 'gpu_check.json'}; failed stages: {', '.join(failed) or 'none'}")
sys.exit(1 if failed else 0)
EOF
