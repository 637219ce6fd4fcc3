"""Optuna pruning for a trial of cnngan's Optuna sweeper (hydra_plugins/cnngan_sweepers).

The sweeper tells each job its trial through the config (`optuna_trial`: storage URL, study name,
trial number). After every validation epoch this callback reports the optimized metric to that
trial and asks the study's pruner; when the pruner rejects the trial it raises
`optuna.TrialPruned`, which ends the run at once (no further epochs, no test), and the sweeper
records the trial as PRUNED. Outside a sweep (no `optuna_trial`), or with several optimized metrics
(Optuna prunes single-objective studies only), it does nothing.

optuna-integration's `PyTorchLightningPruningCallback` needs a live `Trial` when it is built (here
the config holds only strings, and the trial is connected in `setup`), reads Lightning's private
`_accelerator_connector`, and under DDP needs `check_pruned()` called after `fit`; this callback
instead reports from rank 0 and broadcasts the decision, so every rank stops together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning as L

from cnngan.core.rank import log
from cnngan.sweeps.optuna_storage import connect_trial


class OptunaPruning(L.Callback):
    """Report `monitor` to the job's Optuna trial after each validation epoch; prune on request.

    Args:
        monitor: the optimized metric (a list of several metrics disables reporting).
        trial: {storage, study_name, number} of the job's trial, or None outside a sweep.
    """

    def __init__(self, monitor: Any, trial: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.monitor = monitor if isinstance(monitor, str) else None
        self.trial_ref = dict(trial) if trial else None
        self._trial: Any = None
        self._warned = False

    @property
    def active(self) -> bool:
        return self.monitor is not None and self.trial_ref is not None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage == "fit" and self.active and trainer.is_global_zero and self._trial is None:
            ref = self.trial_ref
            self._trial = connect_trial(ref["storage"], ref["study_name"], ref["number"])

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not self.active:
            return
        epoch = trainer.current_epoch
        value = trainer.callback_metrics.get(self.monitor)
        prune = False
        if self._trial is not None and value is not None:
            # step = epochs completed: a pruner's min_resource=1 / n_warmup_steps=1 mean one epoch
            self._trial.report(float(value), step=epoch + 1)
            prune = self._trial.should_prune()
        elif value is None and not self._warned:
            self._warned = True
            log.warning("optuna pruning: %s was not logged at validation end", self.monitor)
        if trainer.world_size > 1:
            prune = trainer.strategy.broadcast(prune, src=0)
        if prune:
            import optuna

            shown = f"{float(value):.4g}" if value is not None else "?"
            raise optuna.TrialPruned(f"pruned after epoch {epoch}: {self.monitor}={shown}")
