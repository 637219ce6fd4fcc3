"""The arithmetic of one training step, counted: FLOPs per image, forward and backward.

`torch.utils.flop_counter.FlopCounterMode` counts every matrix multiply and convolution (forward
and backward kernels) that runs while it is active, from the shapes, with 2 FLOPs per
multiply-add; element-wise work (activations, batch norm, losses, the optimizer) counts zero, as
in every published FLOP figure. `StepFlops` holds one open around one real training step of
cnngan's fit (the nets `make bench` times, at its settings), and a second one around each
backward pass: Lightning calls `on_before_backward` / `on_after_backward` for every
`manual_backward` too, so the GAN's iteration (D's step on real and fake, G's step) splits the
same way. Forward = everything else in the step (for the GAN: G's forward for D's fakes as well).
"""

from __future__ import annotations

from typing import Any

import lightning as L
from omegaconf import DictConfig
from torch.utils.flop_counter import FlopCounterMode

from bench.cnngan_side import cnngan_fit


class StepFlops(L.Callback):
    """Counts the FLOPs of training batch `batch_index` (0-based): total and backward."""

    def __init__(self, batch_index: int = 1) -> None:
        self.batch_index = batch_index
        self.step: FlopCounterMode | None = None
        self.backward: FlopCounterMode | None = None
        self.total = self.backward_total = 0
        self.backward_passes = 0

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: Any, batch: Any, i: int) -> None:
        if i == self.batch_index:
            self.step = FlopCounterMode(display=False).__enter__()

    def on_before_backward(self, trainer: L.Trainer, pl_module: Any, loss: Any) -> None:
        if self.step is not None:
            self.backward = FlopCounterMode(display=False).__enter__()

    def on_after_backward(self, trainer: L.Trainer, pl_module: Any) -> None:
        if self.backward is not None:
            self.backward.__exit__(None, None, None)
            self.backward_total += self.backward.get_total_flops()
            self.backward_passes += 1
            self.backward = None

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: Any, *args: Any) -> None:
        if self.step is not None:
            self.step.__exit__(None, None, None)
            self.total = self.step.get_total_flops()
            self.step = None


def count_step(cfg: DictConfig) -> dict[str, Any]:
    """FLOPs of one training step (GAN: one iteration) of cnngan at `cfg`, per image of the real
    batch: forward, backward, and their sum."""
    counter = StepFlops(batch_index=1)
    cnngan_fit(cfg, warmup=1, steps=1, callbacks=[counter])
    if not counter.total:
        raise RuntimeError("no FLOPs counted: the counted batch did not run")
    batch = int(cfg.data.batch_size)
    forward = counter.total - counter.backward_total
    return {
        "batch_size": batch,
        "backward_passes": counter.backward_passes,
        "forward_flops_per_image": forward / batch,
        "backward_flops_per_image": counter.backward_total / batch,
        "flops_per_image": counter.total / batch,
        "counter": "torch.utils.flop_counter.FlopCounterMode (matmul and convolution kernels, "
        "2 FLOPs per multiply-add; element-wise work not counted)",
    }
