"""Optuna parts shared by the sweeper (hydra_plugins/cnngan_sweepers) and the pruning callback
(cnngan/sweeps/pruning.py): samplers and pruners by name, the study's storage, and a job's trial.

The sweeper stores its pruner's spec in the study (user attr `pruner`); a job connects to its trial
with (storage URL, study name, trial number) and rebuilds the same pruner, so `should_prune()` in
the job asks the pruner the sweeper was configured with. Optuna is imported only when used.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

from cnngan.core.errors import UserError

PRUNER_ATTR = "pruner"
SAMPLERS = {
    "tpe": "TPESampler",
    "random": "RandomSampler",
    "cmaes": "CmaEsSampler",
    "grid": "GridSampler",
    "qmc": "QMCSampler",
}
PRUNERS = {
    "none": "NopPruner",
    "median": "MedianPruner",
    "hyperband": "HyperbandPruner",
    "successive_halving": "SuccessiveHalvingPruner",
}


def _class(module: Any, table: Mapping[str, str], name: str, what: str) -> Any:
    if name not in table:
        raise UserError(f"unknown {what} {name!r}; choose one of {', '.join(table)}")
    return getattr(module, table[name])


def build_sampler(
    name: str, args: Mapping[str, Any] | None = None, seed: int | None = None, grid: Any = None
) -> Any:
    """An Optuna sampler by name (tpe, random, cmaes, grid, qmc), seeded; `grid`: the grid
    sampler's search space ({param: [values]})."""
    import optuna

    cls = _class(optuna.samplers, SAMPLERS, name, "sampler")
    kwargs = {**(args or {}), "seed": seed}
    return cls(grid, **kwargs) if name == "grid" else cls(**kwargs)


def pruner_spec(name: str, args: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON spec of a pruner, as stored in the study; checked here so a typo fails early."""
    import optuna

    _class(optuna.pruners, PRUNERS, name, "pruner")
    return {"name": name, "args": dict(args or {})}


def build_pruner(spec: Mapping[str, Any] | None) -> Any:
    """The pruner of a spec from `pruner_spec` (no spec: never prune)."""
    import optuna

    spec = spec or {"name": "none", "args": {}}
    cls = _class(optuna.pruners, PRUNERS, spec["name"], "pruner")
    return cls(**dict(spec.get("args") or {}))


def rdb_storage(
    url: str,
    heartbeat_s: int | None = None,
    grace_s: int | None = None,
    on_stale: Callable[[Any, Any], None] | None = None,
) -> Any:
    """The study's storage (any SQLAlchemy URL: sqlite:///..., postgresql://user@host:port/db),
    with Optuna's trial heartbeat when `heartbeat_s` is set: `optuna.storages.fail_stale_trials`
    then fails RUNNING trials not heard from for `grace_s` seconds and calls `on_stale` on each."""
    import optuna

    if not heartbeat_s:
        return optuna.storages.RDBStorage(url)
    with warnings.catch_warnings():  # heartbeat_interval is experimental in Optuna
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(
            url,
            heartbeat_interval=heartbeat_s,
            grace_period=grace_s,
            heartbeat_stale_trial_callback=on_stale,
        )


def connect_trial(storage: str, study_name: str, number: int) -> Any:
    """Trial `number` of a stored study (asked by the sweeper, RUNNING), with the study's pruner."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=study_name, storage=storage)
    study.pruner = build_pruner(study.user_attrs.get(PRUNER_ATTR))
    store = optuna.storages.get_storage(storage)
    study_id = store.get_study_id_from_name(study_name)
    trial_id = store.get_trial_id_from_study_id_trial_number(study_id, int(number))
    return optuna.trial.Trial(study, trial_id)
