"""The resumable Optuna sweeper's Hydra entry point (see `_resumable_optuna` for what it does).

Hydra imports every module of `hydra_plugins` at each start, so this one imports Optuna only when
the sweeper is built: importing Optuna (scipy.stats, cmaes, ...) was about 30% of the start-up of
every `cnngan-train` run, sweeps or not (make bench, profiled with pyinstrument).
"""

from __future__ import annotations

from typing import Any

from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper


class ResumableOptunaSweeper(OptunaSweeper):
    """`hydra.sweeper._target_` for conf/hparams_search/*_optuna.yaml (same options as Optuna's)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # same arguments as OptunaSweeper
        from hydra_plugins.cnngan_sweepers._resumable_optuna import ResumableOptunaSweeperImpl

        self.sweeper = ResumableOptunaSweeperImpl(*args, **kwargs)


def __getattr__(name: str) -> Any:
    """prepare_resume, ResumableOptunaSweeperImpl, ...: from the implementation, on first use."""
    from hydra_plugins.cnngan_sweepers import _resumable_optuna

    return getattr(_resumable_optuna, name)
