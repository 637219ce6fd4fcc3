"""DDP that works the same from a single run, a Hydra multirun, joblib workers or SLURM.

Lightning's DDP (start_method="popen") re-runs the current script for every extra local rank. With
Hydra it re-uses `sys.argv` plus `hydra.run.dir=<the run-dir pattern>`, which breaks multiruns:
the children see `-m` and the sweep lists and start whole sweeps of their own, and they would
write into a `runs/` folder instead of the job's `multiruns/<timestamp>/<job>/`. After a job, the
parent also keeps `LOCAL_RANK`/`MASTER_PORT`/... in its environment and its process group
alive, so the next job of a sweep believes its ranks are launched externally and hangs.

`DDPStrategy` (the `_target_` of `conf/trainer/ddp*.yaml`) fixes all of it:

- each child runs `python -m cnngan.<entry>` with the job's own resolved overrides (no sweep
  lists, `hydra.mode=RUN`) and `hydra.run.dir=<this job's output dir>`: ranks share one run dir
  (`ddp_command.py`);
- `finish_distributed()` (called when a job ends) waits for the children, destroys the process
  group and restores the environment, so the next job of a multirun starts clean
  (`ddp_launcher.py`);
- a child that dies terminates its siblings but not the parent process (Lightning's observer
  SIGKILLs the parent, which would end a whole sweep): the parent's next collective fails, the
  job is reported as failed and the sweep goes on; when rank 0 fails, the others are ended too;
- every rank gets its own random stream (seed + global rank) for noise, dropout and
  augmentation, while the data split, the DistributedSampler order and the initial weights stay
  shared (DDP broadcasts rank 0's weights) (`ddp_strategy.py`);
- `find_unused_parameters="auto"` enables unused-parameter detection for manual optimization
  (GANs: the generator is unused in the discriminator's backward and vice versa).

The two hooks Lightning offers no public way for (the launcher, a DDP argument chosen late) live
in `lightning_private.py`. This module imports none of it: a run without DDP never loads them.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

import torch


def finish_distributed() -> None:
    """End-of-job cleanup for DDP runs started by this process (a no-op otherwise).

    Call it once the job (fit + test) is over: the next job of a multirun then spawns its own
    ranks on a fresh port instead of waiting for ranks that are gone.
    """
    launchers = sys.modules.get("cnngan.distributed.launcher")
    if launchers is not None:  # not imported: this process never launched ranks
        launchers.finish_launchers()
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        # a rank another launcher started (a child of ours, a SLURM task, torchrun): close the
        # group before the interpreter exits. Left open, gloo's threads can abort the process at
        # exit ("terminate called without an active exception") after the job succeeded, and
        # SLURM then marks the job FAILED. SLURM tasks have no LOCAL_RANK, so do not ask for it.
        torch.distributed.destroy_process_group()


def __getattr__(name: str) -> Any:
    """`cnngan.distributed.lifecycle.DDPStrategy` (the name configs use), loaded on first use."""
    if name == "DDPStrategy":
        from cnngan.distributed.strategy import DDPStrategy

        return DDPStrategy
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# what gloo/NCCL say when the peer of a collective has gone away or stopped answering
_PEER_LOST = re.compile(
    r"Connection (reset|closed) by peer|Broken pipe|Socket Timeout|Timed out waiting|"
    r"NCCL communicator was aborted|ProcessGroup\w* .*(timeout|aborted)",
    re.IGNORECASE,
)


def lost_peer_message(err: BaseException, run_dir: str | None = None) -> str | None:
    """One line for a collective that failed because another DDP rank died or hung, or None.

    The other rank's own output says why it stopped; this rank can only say that it lost it.
    """
    text = f"{err}\n{err.__cause__ or ''}"
    found = _PEER_LOST.search(text)
    if found is None:
        return None
    return (
        f"another DDP rank stopped, so this one cannot go on ({found.group(0)} in a collective; "
        f"the other rank's output says why).{_how_to_resume(run_dir)}"
    )


def _how_to_resume(run_dir: str | None) -> str:
    """Where the run can resume from: its last.ckpt (by a new run, or by requeueing the SLURM
    batch job this process belongs to), or nowhere yet."""
    if not run_dir:
        return ""
    last = os.path.join(run_dir, "checkpoints", "last.ckpt")
    if not os.path.isfile(last):
        return f" No checkpoint was saved yet ({last}): run it again from the start."
    job_id = os.environ.get("SLURM_ARRAY_JOB_ID") or os.environ.get("SLURM_JOB_ID")
    if job_id and os.environ.get("SLURM_ARRAY_TASK_ID"):
        job_id = f"{job_id}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    requeue = f", or requeue this SLURM job (scontrol requeue {job_id})" if job_id else ""
    return f" Resume with ckpt_path={last}{requeue}: it resumes from that checkpoint."
