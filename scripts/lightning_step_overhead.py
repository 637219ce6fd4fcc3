"""Lightning's own cost per training step, with the step's arithmetic taken away: a 4-in, 2-out
linear model on batches of 8, fused AdamW and a per-step OneCycle schedule, trained by a plain
loop, by `lightning.Trainer` with automatic optimization, and with manual optimization. The
differences are the framework's per-step Python (loops, hooks, closure, optimizer wrapper), which
a real step pays on top of its kernels (docs/speed.md, "Framework cost").

    python scripts/lightning_step_overhead.py            # 3 rounds of 3,000 steps, 1 thread
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
import warnings
from typing import Any

import lightning as L
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

WARMUP = 200


def dataset(steps: int) -> TensorDataset:
    n = (steps + WARMUP) * 8
    return TensorDataset(torch.randn(n, 4), torch.randint(0, 2, (n,)))


def optimizer_and_schedule(params: Any, steps: int) -> tuple[torch.optim.Optimizer, Any]:
    opt = torch.optim.AdamW(params, fused=True)
    return opt, torch.optim.lr_scheduler.OneCycleLR(opt, 0.01, total_steps=steps + WARMUP + 10)


class Automatic(L.LightningModule):
    def __init__(self, steps: int) -> None:
        super().__init__()
        self.net, self.steps = torch.nn.Linear(4, 2), steps

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(self.net(x), y)

    def configure_optimizers(self) -> Any:
        opt, schedule = optimizer_and_schedule(self.parameters(), self.steps)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


class Manual(Automatic):
    def __init__(self, steps: int) -> None:
        super().__init__(steps)
        self.automatic_optimization = False

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        opt, schedule = self.optimizers(), self.lr_schedulers()
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        opt.zero_grad()
        self.manual_backward(loss)
        opt.step()
        schedule.step()
        return loss


class StartClock(L.Callback):
    """Starts the clock after WARMUP batches."""

    started = 0.0

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if trainer.fit_loop.epoch_loop.batch_progress.current.completed == WARMUP:
            self.started = time.perf_counter()


def lightning_step_us(module_class: type[Automatic], steps: int) -> float:
    clock = StartClock()
    trainer = L.Trainer(
        max_epochs=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[clock],
    )
    loader = DataLoader(dataset(steps), batch_size=8, shuffle=True)
    trainer.fit(module_class(steps), loader)
    return (time.perf_counter() - clock.started) / steps * 1e6


def plain_step_us(steps: int) -> float:
    net = torch.nn.Linear(4, 2)
    opt, schedule = optimizer_and_schedule(net.parameters(), steps)
    batches = iter(DataLoader(dataset(steps), batch_size=8, shuffle=True))
    started = 0.0
    for i in range(steps + WARMUP):
        if i == WARMUP:
            started = time.perf_counter()
        x, y = next(batches)
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
    return (time.perf_counter() - started) / steps * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3000, help="timed steps per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    runs: dict[str, list[float]] = {"plain loop": [], "automatic": [], "manual": []}
    for _ in range(args.rounds):
        runs["plain loop"].append(plain_step_us(args.steps))
        runs["automatic"].append(lightning_step_us(Automatic, args.steps))
        runs["manual"].append(lightning_step_us(Manual, args.steps))
    plain = statistics.median(runs["plain loop"])
    for name, values in runs.items():
        median = statistics.median(values)
        print(f"{name:11s} {median:6.0f} us/step (+{median - plain:4.0f} over the plain loop)")


if __name__ == "__main__":
    main()
