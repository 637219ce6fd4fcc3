"""One model's part of `make bench`: its comparisons in alternating rounds (a cnngan/plain pair
interleaved in blocks, bench/interleave.py; any other pair one run after the other), and the
calibration pair that the duration estimate starts from."""

from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from bench.contenders import TASKS, compose
from bench.interleave import measure_pair
from bench.presets import resolve_advice
from bench.rounds import Speed, images_per_second, ratio_summary, run_rounds, speed_summary


def names(option: str) -> list[str]:
    return [n for n in option.split(",") if n and n != "none"]


def contender_configs(task: str, args: argparse.Namespace, out_dir: Path) -> dict[str, Any]:
    """The comparisons asked for, and the run config of every contender they use."""
    t = TASKS[task]
    comparisons = {n: t.comparisons[n] for n in names(args.comparisons)}
    used = {c for comp in comparisons.values() for c in (comp.numerator, comp.denominator)}
    cfgs = {n: compose(task, t.contenders[n].overrides, out_dir / "runs", args.data) for n in used}
    return {"comparisons": comparisons, "cfgs": cfgs}


def can_interleave(task: str, a: str, b: str, block: int) -> bool:
    """A pair of a cnngan and a plain contender, with blocks asked for (--block > 0)."""
    sides = sorted(TASKS[task].contenders[n].side for n in (a, b))
    return block > 0 and sides == ["cnngan", "plain"]


def interleaved(
    task: str, cfgs: dict[str, DictConfig], args: argparse.Namespace, first: str, second: str
) -> dict[str, Speed] | None:
    """Both speeds of a cnngan/plain pair, measured in interleaved blocks (`first` leads);
    None where the pair cannot be (see can_interleave)."""
    if not can_interleave(task, first, second, args.block):
        return None
    side = TASKS[task].contenders[first].side
    cnngan, plain = (first, second) if side == "cnngan" else (second, first)
    gc.collect()
    c, p, timed = measure_pair(
        task, cfgs[cnngan], cfgs[plain], args.warmup, args.steps, args.block, first == plain
    )
    images = timed * int(cfgs[cnngan].data.batch_size)
    return {cnngan: images_per_second(images, c), plain: images_per_second(images, p)}


def bench_task(task: str, args: argparse.Namespace, out_dir: Path) -> dict[str, Any]:
    """Every requested comparison of one model, in alternating rounds."""
    from bench.cnngan_side import cnngan_fit
    from bench.plain import run_plain

    t = TASKS[task]
    setup = contender_configs(task, args, out_dir)
    comparisons, cfgs = setup["comparisons"], setup["cfgs"]

    def measure(name: str) -> Speed:
        gc.collect()
        cfg = cfgs[name]
        if t.contenders[name].side == "plain":
            seconds, _ = run_plain(task, cfg, args.warmup, args.steps)
        else:
            seconds, _ = cnngan_fit(cfg, args.warmup, args.steps)
        return images_per_second(args.steps * int(cfg.data.batch_size), seconds)

    def report(r: int, name: str, speed: Speed) -> None:
        print(
            f"  [{task} round {r + 1}/{args.rounds}] {name:<22} {speed[0]:8.0f} img/s"
            f" {speed[1]:8.0f} img/CPU-s",
            flush=True,
        )

    pairs = {n: (c.numerator, c.denominator) for n, c in comparisons.items()}
    speeds, ratios = run_rounds(
        pairs, args.rounds, measure, report, lambda a, b: interleaved(task, cfgs, args, a, b)
    )
    part = {
        "contenders": {
            n: {
                "side": t.contenders[n].side,
                "overrides": list(t.contenders[n].overrides),
                **speed_summary(speeds[n]),
            }
            for n in sorted(cfgs)
        },
        "comparisons": {
            n: {
                "label": c.label,
                "numerator": c.numerator,
                "denominator": c.denominator,
                "measured": "interleaved blocks"
                if can_interleave(task, c.numerator, c.denominator, args.block)
                else "one run after the other",
                **ratio_summary(ratios[n]),
            }
            for n, c in comparisons.items()
        },
    }
    advice = resolve_advice(part["comparisons"], args.rounds)
    if advice:
        part["rounds_to_resolve"] = advice
        print(f"  [{task}] not resolved to +/-0.03; rounds that would: {advice}", flush=True)
    return part


def calibrate(task: str, args: argparse.Namespace, out_dir: Path) -> dict[str, Any]:
    """One short cnngan/plain pair (one block, after the warm-up): seconds per step of each
    side, and the seconds a pair spends outside its steps (building, data, fit set-up)."""
    t = TASKS[task]
    cfgs = {
        n: compose(task, t.contenders[n].overrides, out_dir / "runs", args.data)
        for n in ("cnngan", "plain")
    }
    steps = min(args.steps, args.block if args.block > 0 else 10)
    start = time.perf_counter()
    c, p, timed = measure_pair(task, cfgs["cnngan"], cfgs["plain"], args.warmup, steps, steps)
    total = time.perf_counter() - start
    per_step = {"cnngan": c[0] / timed, "plain": p[0] / timed}
    build = max(total - (args.warmup + timed) * (per_step["cnngan"] + per_step["plain"]), 0.0)
    requested = [t.comparisons[n] for n in names(args.comparisons)]
    pairs = list(dict.fromkeys((c.numerator, c.denominator) for c in requested))
    return {"per_step": per_step, "build_s": build, "pairs": pairs}
