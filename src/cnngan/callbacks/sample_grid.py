"""Render a GAN's samples from one fixed noise batch as an image grid during training.

The same latent vectors (and, for a conditional GAN, the same labels: one class per row) are
used every time, so the grids show how the generator evolves. Each grid goes to every logger that
takes images (W&B, TensorBoard) and to `<run dir>/samples/iter_XXXXXX.png`; the grid after the
last iteration is also written as `samples/final.png`. Only global rank 0 renders and writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import lightning as L
import torch

from cnngan.callbacks.log_images import log_image
from cnngan.core.image_io import grid_layout, image_grid, save_grid
from cnngan.core.iterations import training_iteration
from cnngan.core.rank import log


class GeneratesImages(Protocol):
    """What a sample grid needs of a module: the GAN's `generate` and `has_ema`, and hparams."""

    hparams: Any
    device: torch.device
    has_ema: bool

    def generate(self, n: int, **options: Any) -> torch.Tensor:
        """n images in [-1, 1]; options: labels, use_ema, generator (a torch.Generator)."""
        ...


class SampleGrid(L.Callback):
    """Args:
    every_n_iterations: render after every N training iterations (batches); null = never.
    every_n_epochs: render after every N epochs; null = never.
    num_samples: images in the grid; nrow: images per row (default: the number of classes for
        a conditional GAN, so each row is one class; else about sqrt(num_samples)).
    seed: seed of the fixed noise.
    use_ema: sample with the generator's EMA copy when the GAN has one.
    at_train_end: also render after the last iteration (written as samples/final.png too).
    dirname: folder under the run dir (trainer.default_root_dir) for the PNG files.
    """

    def __init__(
        self,
        every_n_iterations: int | None = 500,
        every_n_epochs: int | None = None,
        num_samples: int = 100,
        nrow: int | None = None,
        seed: int = 1234,
        use_ema: bool = True,
        at_train_end: bool = True,
        dirname: str = "samples",
    ) -> None:
        super().__init__()
        self.every_n_iterations = every_n_iterations
        self.every_n_epochs = every_n_epochs
        self.num_samples, self.nrow, self.seed = int(num_samples), nrow, int(seed)
        self.use_ema, self.at_train_end, self.dirname = use_ema, at_train_end, dirname
        self.written: list[Path] = []
        self._last_iteration = -1

    def _layout(self, pl_module: GeneratesImages) -> tuple[int, torch.Tensor | None]:
        hp = pl_module.hparams
        num_classes = int(hp.num_classes) if hp.get("conditional") else None
        nrow, labels = grid_layout(self.num_samples, self.nrow, num_classes)
        return nrow, None if labels is None else labels.to(pl_module.device)

    def render(self, pl_module: GeneratesImages) -> torch.Tensor:
        """The grid (C, H, W) in [0, 1] for the fixed noise."""
        nrow, labels = self._layout(pl_module)
        generator = torch.Generator().manual_seed(self.seed)
        images = pl_module.generate(
            self.num_samples, labels=labels, use_ema=self.use_ema, generator=generator
        )
        return image_grid(images, nrow)

    def _write(
        self, trainer: L.Trainer, pl_module: L.LightningModule, in_batch: bool, final: bool = False
    ) -> None:
        """`in_batch`: called at the end of a batch, whose curves Lightning logs at the step
        before its iteration count (images logged at the same step line up with them)."""
        iteration = training_iteration(trainer, pl_module)
        if not trainer.is_global_zero or (iteration == self._last_iteration and not final):
            return
        self._last_iteration = iteration
        grid = self.render(pl_module)
        ema = self.use_ema and pl_module.has_ema
        step = iteration - 1 if in_batch else iteration
        log_image(trainer, f"samples/{'ema' if ema else 'generator'}", grid, step=step)
        if trainer.fast_dev_run:
            return  # fast_dev_run writes no files
        out_dir = Path(trainer.default_root_dir) / self.dirname
        self.written.append(save_grid(grid, out_dir / f"iter_{iteration:06d}.png"))
        if final:
            path = save_grid(grid, out_dir / "final.png")
            log.info("sample grid after %d iterations: %s", iteration, path)

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, *_: Any
    ) -> None:  # (outputs, batch, batch_idx) unused
        every = self.every_n_iterations
        if every and training_iteration(trainer, pl_module) % every == 0:
            self._write(trainer, pl_module, in_batch=True)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        every = self.every_n_epochs
        if every and (trainer.current_epoch + 1) % every == 0:
            self._write(trainer, pl_module, in_batch=False)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.at_train_end:
            self._write(trainer, pl_module, in_batch=False, final=True)
