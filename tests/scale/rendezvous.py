"""A Lightning callback that makes the jobs of one launch batch meet before they train, so that a
test can assert that they ran side by side without racing their process start-up."""

from __future__ import annotations

import time
from pathlib import Path

import lightning as L


class Rendezvous(L.Callback):
    """Job `job` writes `<folder>/<job>` when its training starts, then waits until every job of
    its batch (jobs `batch_size * k` to `batch_size * (k + 1) - 1`) has written its file. Jobs
    that run one after the other never meet: the first one fails after `timeout_s` seconds."""

    def __init__(self, folder: str, job: int, batch_size: int, timeout_s: float = 300) -> None:
        self.folder, self.job = Path(folder), int(job)
        self.batch_size, self.timeout_s = int(batch_size), float(timeout_s)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / str(self.job)).touch()
        first = self.job - self.job % self.batch_size
        batch = [self.folder / str(n) for n in range(first, first + self.batch_size)]
        deadline = time.monotonic() + self.timeout_s
        while not all(path.exists() for path in batch):
            if time.monotonic() > deadline:
                missing = [path.name for path in batch if not path.exists()]
                raise RuntimeError(f"job {self.job}: jobs {missing} of its batch never started")
            time.sleep(0.05)
