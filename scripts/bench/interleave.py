"""Interleaved pairs: cnngan's fit and a plain loop timed in alternating blocks of steps, in one
process, so that a change of load on a shared machine hits both sides of a pair alike.

Run one after the other, the two runs of a pair are seconds to minutes apart, and a neighbour's
burst of work in one of them moves the ratio by 10-25% (the 2026-12 results). Here the plain loop
runs inside cnngan's fit, from a callback at block boundaries: cnngan trains `block` batches,
the plain loop `block` steps, and so on, in ABBA order (cnngan-plain, plain-cnngan, ...), which
also cancels a load that drifts steadily. Each side's time is the sum over its blocks, so the
pair's ratio is one number per round, as before, measured over the same stretch of time.

Neither side's work changes: cnngan's blocks run its whole training loop (data fetch, transfer,
transform, step, hooks, logging) from the end of one batch to the end of another, as
`cnngan_side.WindowTimer` does; the plain loop is the very `PlainRun.step` that `run_plain` times.
The plain steps run with gradients enabled and outside any autocast region (a Lightning precision
plugin autocasts only the training step itself).
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig

from bench.cnngan_side import cnngan_fit
from bench.plain import PLAIN
from bench.timing import Seconds, clock, elapsed, sync

CNNGAN, PLAIN_SIDE = "cnngan", "plain"


def block_plan(steps: int, block: int) -> tuple[int, int]:
    """(blocks per side, steps per block) for at least `steps` timed steps per side."""
    block = max(1, min(block, steps))
    return math.ceil(steps / block), block


def block_order(blocks: int, plain_first: bool = False) -> list[str]:
    """The sides of 2 x `blocks` blocks in run order: pair k runs cnngan first when k is even
    (plain first when `plain_first`), the other way round when k is odd (ABBA)."""
    order: list[str] = []
    for k in range(blocks):
        cnngan_first = (k % 2 == 0) != plain_first
        order += [CNNGAN, PLAIN_SIDE] if cnngan_first else [PLAIN_SIDE, CNNGAN]
    return order


class Interleave(L.Callback):
    """Times cnngan's batches in blocks after `warmup` batches and runs the plain loop's blocks
    between them, in `order`; `totals` holds each side's summed (wall, CPU) seconds."""

    def __init__(
        self, warmup: int, block: int, order: list[str], plain_step: Any, device: torch.device
    ) -> None:
        self.warmup, self.block, self.queue = warmup, block, list(order)
        self.plain_step, self.device = plain_step, device
        self.batches, self.started = 0, None
        self.totals = {CNNGAN: [0.0, 0.0], PLAIN_SIDE: [0.0, 0.0]}
        self.blocks = {CNNGAN: 0, PLAIN_SIDE: 0}

    def _add(self, side: str, seconds: Seconds) -> None:
        self.totals[side][0] += seconds[0]
        self.totals[side][1] += seconds[1]
        self.blocks[side] += 1
        self.queue.pop(0)

    def _plain_block(self) -> Seconds:
        with torch.enable_grad():
            start = clock()
            for _ in range(self.block):
                self.plain_step()
            sync(self.device)
            return elapsed(start)

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        self.batches += 1
        done = self.batches - self.warmup
        if done < 0 or done % self.block:
            return
        sync(self.device)
        if self.started is not None:  # a cnngan block ends here
            self._add(CNNGAN, elapsed(self.started))
            self.started = None
        while self.queue and self.queue[0] == PLAIN_SIDE:
            self._add(PLAIN_SIDE, self._plain_block())
        if self.queue:
            self.started = clock()


def measure_pair(
    task: str,
    cnngan_cfg: DictConfig,
    plain_cfg: DictConfig,
    warmup: int,
    steps: int,
    block: int,
    plain_first: bool = False,
    plain: Any = None,
) -> tuple[Seconds, Seconds, int]:
    """(cnngan's, the plain loop's) summed (wall, CPU) seconds over the same number of timed
    steps, measured in interleaved blocks, and that number of steps (`steps` rounded up to whole
    blocks). Both sides first run `warmup` untimed steps (the plain loop before the fit).
    `plain(cfg, total_steps) -> PlainRun` builds the plain side (default: the task's loop)."""
    blocks, block = block_plan(steps, block)
    timed = blocks * block
    run = (plain or PLAIN[task])(plain_cfg, warmup + timed)
    for _ in range(warmup):
        run.step()
    sync(run.device)
    pacer = Interleave(warmup, block, block_order(blocks, plain_first), run.step, run.device)
    cnngan_fit(cnngan_cfg, warmup, timed, callbacks=[pacer])
    if pacer.blocks != {CNNGAN: blocks, PLAIN_SIDE: blocks}:
        raise RuntimeError(f"interleaving ran {pacer.blocks} blocks, {blocks} per side expected")
    (cw, cc), (pw, pc) = pacer.totals[CNNGAN], pacer.totals[PLAIN_SIDE]
    return (cw, cc), (pw, pc), timed
