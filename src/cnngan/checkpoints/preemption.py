"""Save a checkpoint, then requeue, when SLURM warns a job of its time limit or a preemption.

SLURM sends a job's `--signal` to every task some time before it kills the job: at the time limit
(hydra-submitit-launcher: USR2, `signal_delay_s` seconds before) and, with
`SlurmctldParameters=preempt_send_user_signal`, at a preemption's grace time; `scancel --signal
USR2 <job>` sends it by hand. submitit answers USR2 on global rank 0 by resubmitting the same
Hydra job (counting time limits against `max_num_timeout`), `scontrol requeue` and exit. It saves
no training state: the requeued job would start over.

A signal handler runs between two bytecodes of the main thread: in the middle of a training step
and, under DDP, possibly inside a collective, where a checkpoint cannot be written. So while
training runs, `RequeueOnSignal` takes the signal over and only notes it. At the end of the
training batch (or of training) the ranks agree that it came (one all-reduce: the signal may
reach them at different steps), all of them write `last.ckpt` together (a step boundary: the
resumed run continues bit for bit, see `resume_state`), and then submitit's handler runs as it
would have: rank 0 requeues the job and exits, the other ranks exit. The requeued job resumes
from that `last.ckpt` (`requeue`).

Only active in a SLURM job whose signal already has a Python handler (submitit's); elsewhere it
does nothing. A signal before training starts (loading data, the sanity check) or after it
(testing) goes straight to submitit: the restart resumes from the newest `last.ckpt`, or starts
over when there is none yet. docs/slurm.md says why this and not Lightning's own SLURM requeue.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import lightning as L

from cnngan.checkpoints.clock import ClockedModelCheckpoint
from cnngan.checkpoints.requeue import last_checkpoint_callback, last_checkpoint_path
from cnngan.core.rank import log

Handler = Callable[[int, FrameType | None], Any]


def requeue_signal() -> signal.Signals:
    """The signal submitit requeues on: USR2, or `SUBMITIT_PREEMPT_SIGNAL` (e.g. "USR1")."""
    name = os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2").upper().removeprefix("SIG")
    return signal.Signals[f"SIG{name}"]


class RequeueOnSignal(L.Callback):
    """Defers submitit's time-limit/preemption handler to the end of a training batch, after
    every rank has saved `last.ckpt` (see the module's docstring)."""

    def __init__(self) -> None:
        self.signum = requeue_signal()
        self._handed_over: Handler | None = None
        self._received: int | None = None

    @property
    def active(self) -> bool:
        return self._handed_over is not None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Take the signal over (after Lightning's signal connector has recorded the handlers
        it restores when fit ends, submitit's among them)."""
        previous = signal.getsignal(self.signum)
        if "SLURM_JOB_ID" not in os.environ or not callable(previous):
            return
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread
        self._handed_over = previous
        self._received = None
        signal.signal(self.signum, self._note)

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self._received = signum

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if self.active and self._signal_came(trainer):
            self._save_and_hand_over(trainer, in_batch_end=True)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """A signal after the last training batch (during the last validation): save the final
        state, so that the requeued job goes straight on to testing."""
        if self.active and self._signal_came(trainer):
            self._save_and_hand_over(trainer, in_batch_end=False)
        self._give_back()

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        self._give_back()

    def _give_back(self) -> Handler | None:
        """Reinstall the handler this callback took over; return it (None if inactive)."""
        handler, self._handed_over = self._handed_over, None
        if handler is not None:
            signal.signal(self.signum, handler)
        return handler

    def _signal_came(self, trainer: L.Trainer) -> bool:
        """Whether any rank got the signal (every rank calls this at the same points)."""
        received = self._received is not None
        if trainer.world_size == 1:
            return received
        return trainer.strategy.reduce_boolean_decision(received, all=False)

    def _save_and_hand_over(self, trainer: L.Trainer, in_batch_end: bool) -> None:
        signum = self._received if self._received is not None else self.signum
        path = save_last(trainer, in_batch_end)
        name = signal.Signals(signum).name
        if path is None:
            log.warning(
                "%s: no checkpoint callback saves last.ckpt; a requeued job starts over", name
            )
        else:
            log.info(
                "%s (time limit or preemption): saved %s (epoch %d, global step %d); a requeued "
                "job resumes from it, or resume with ckpt_path=%s",
                name,
                path,
                trainer.current_epoch,
                trainer.global_step,
                path,
            )
        # this process ends now; the requeue makes SLURM send SIGTERM at once, and Lightning's
        # SIGTERM handler (until Lightning's teardown restores submitit's) would broadcast to
        # ranks that have left and turn this exit into a lost-peer failure
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        handler = self._give_back()
        assert handler is not None
        handler(signum, None)  # submitit: rank 0 requeues and exits, or raises (no requeue)
        raise SystemExit(-1)  # the other ranks, which submitit leaves running, end as rank 0 did


def save_last(trainer: L.Trainer, in_batch_end: bool) -> str | None:
    """Write `last.ckpt` now, on every rank (saving is collective under DDP); its path, or None
    when no checkpoint callback saves one.

    `in_batch_end`: called from `on_train_batch_end`, before the checkpoint callbacks' own
    (Lightning runs them last), so the clock has not counted this batch yet; it is counted here,
    as a clock save at this batch would have it, and the resumed run's clock keeps the
    uninterrupted one's beat (this process ends after the save: the batch is never counted twice).
    """
    callback = last_checkpoint_callback(trainer)
    if callback is None:
        return None
    if isinstance(callback, ClockedModelCheckpoint):
        callback._clock_batches += int(in_batch_end)
        return callback.save_last_now(trainer)
    path = str(last_checkpoint_path(callback))
    trainer.save_checkpoint(path, callback.save_weights_only)
    return path
