"""One timed cnngan fit from config overrides, as `make bench` runs cnngan (Lightning Trainer, no
logger, progress bar or validation): the seconds of its first steps and its step speed. Used by
the studies that compare one setting with another (`compile_study.py`, `lever_study.py`)."""

from __future__ import annotations

import functools
import tempfile
import time
from pathlib import Path

from bench.cnngan_side import cnngan_fit
from bench.contenders import compose


@functools.cache
def scratch_dir() -> Path:
    """The runs' output_dir (no logger, no checkpoints), made on first use, not at import."""
    return Path(tempfile.mkdtemp(prefix="timed_fit_"))


def timed_fit(
    task: str, overrides: tuple[str, ...], warmup: int, steps: int, data: str | None = None
) -> dict[str, float]:
    """Fit `warmup + steps` steps (GAN: iterations): the seconds until the timed window opens
    (the first steps, where torch.compile compiles) and images/s (wall and CPU) inside it."""
    cfg = compose(task, overrides, scratch_dir(), data=data)
    first: list[float] = []
    started = time.perf_counter()

    def on_window(edge: str) -> None:
        if edge == "start":
            first.append(time.perf_counter() - started)

    (wall, cpu), _ = cnngan_fit(cfg, warmup, steps, on_window=on_window)
    images = steps * int(cfg.data.batch_size)
    return {"first_steps_s": first[0], "img_per_s": images / wall, "cpu_img_per_s": images / cpu}
