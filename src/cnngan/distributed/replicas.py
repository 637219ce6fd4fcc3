"""Check that DDP replicas stay identical, and that ranks draw different random numbers.

    cnngan-train trainer=ddp_cpu +callbacks.replica_check._target_=cnngan.distributed.replicas.ReplicaCheck

At the end of fit every rank hashes its parameters and buffers; the digests are gathered and
compared. Different parameters mean a broken gradient sync (a parameter updated outside the
synchronized backward, a rank-dependent optimizer step...) and raise. Buffers (batch-norm running
statistics) are updated per rank after DDP's last broadcast of them; cnngan's DDPStrategy aligns
them when training ends (`sync_buffers_at_end`). Different buffers are reported, and fatal only
with `strict_buffers=True`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import lightning as L
import torch


def state_digest(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 over names, dtypes, shapes and exact bytes of the tensors (order-independent)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _gather(obj: Any) -> list[Any]:
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return [obj]
    out: list[Any] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(out, obj)
    return out


class ReplicaCheck(L.Callback):
    """Args:
    save_dir: when set, every rank writes `rank<r>.pt` (its state dict) and `rank<r>.json`
        (digests, a draw of its random stream at train start) there, for offline comparison.
    strict_buffers: raise (not only warn) when buffers differ across ranks.
    """

    def __init__(self, save_dir: str | None = None, strict_buffers: bool = False) -> None:
        self.save_dir = Path(save_dir) if save_dir else None
        self.strict_buffers = strict_buffers
        self.random_probe: list[float] = []

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # a draw from this rank's torch stream, without consuming it
        with torch.random.fork_rng(devices=[]):
            self.random_probe = torch.rand(4).tolist()

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        params = {k: v for k, v in pl_module.named_parameters()}
        buffers = {k: v for k, v in pl_module.named_buffers()}
        record = {
            "rank": trainer.global_rank,
            "world_size": trainer.world_size,
            "params_digest": state_digest(params),
            "buffers_digest": state_digest(buffers),
            "random_probe": self.random_probe,
            "global_step": trainer.global_step,
        }
        if self.save_dir is not None:
            self.save_dir.mkdir(parents=True, exist_ok=True)
            torch.save(
                {k: v.detach().cpu() for k, v in pl_module.state_dict().items()},
                self.save_dir / f"rank{trainer.global_rank}.pt",
            )
            (self.save_dir / f"rank{trainer.global_rank}.json").write_text(
                json.dumps(record, indent=2)
            )
        records = _gather(record)
        if len({r["params_digest"] for r in records}) > 1:
            raise RuntimeError(
                "DDP replicas hold different parameters after fit: "
                + ", ".join(f"rank {r['rank']}: {r['params_digest'][:12]}" for r in records)
            )
        if len({r["buffers_digest"] for r in records}) > 1:
            message = (
                "DDP replicas hold different buffers (batch-norm statistics?); use "
                "cnngan.distributed.strategy.DDPStrategy(sync_buffers_at_end=true) or "
                "trainer.sync_batchnorm=true to keep them in sync"
            )
            if self.strict_buffers:
                raise RuntimeError(message)
            if trainer.is_global_zero:
                import logging

                logging.getLogger(__name__).warning(message)
