"""A Lightning callback that records the precision a run really trained in: the Trainer's
precision setting and the dtype of what the model's first layer computed during training steps
(bf16 autocast makes it torch.bfloat16). Add it to a run with the overrides in `PROBE`; read the
record back with `read_probe`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import nn

PROBE_FILE = "dtype_probe.json"
PROBE = [
    "+callbacks.dtype_probe._target_=tests.dtype_probe.DtypeProbe",
    "+callbacks.dtype_probe.save_dir=${paths.output_dir}",
]


class DtypeProbe(L.Callback):
    def __init__(self, save_dir: str) -> None:
        self.save_dir = Path(save_dir)
        self.dtypes: set[str] = set()
        self._handle: Any = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        first = next(m for m in pl_module.modules() if isinstance(m, nn.Conv2d | nn.Linear))
        self._handle = first.register_forward_hook(self._record)

    def _record(self, module: nn.Module, args: Any, output: torch.Tensor) -> None:
        if torch.is_grad_enabled():  # a training step, not a no-grad sample
            self.dtypes.add(str(output.dtype))

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._handle.remove()
        record = {"precision": str(trainer.precision), "dtypes": sorted(self.dtypes)}
        self.save_dir.mkdir(parents=True, exist_ok=True)
        (self.save_dir / f"rank{trainer.global_rank}_{PROBE_FILE}").write_text(json.dumps(record))


def read_probe(run_dir: str | Path, rank: int = 0) -> dict[str, Any]:
    """{"precision": the Trainer's setting, "dtypes": what the first layer computed in}."""
    return json.loads((Path(run_dir) / f"rank{rank}_{PROBE_FILE}").read_text())
