"""The Optuna sweeper's options (hydra_plugins/cnngan_sweepers), checked, as plain Python values."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from omegaconf import OmegaConf

from cnngan.core.errors import UserError
from cnngan.sweeps.objective import objective_spec


def _optional_positive(options: dict[str, Any], key: str) -> int | None:
    """A setting that is a whole number of seconds (or retries) >= 1, or null: off."""
    value = options.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"hydra.sweeper.{key}={value!r} must be a whole number >= 1, or null")
    return value


@dataclass(frozen=True)
class StudySettings:
    """The sweeper's options, checked and as plain Python values.

    heartbeat_s: a running job records that it is alive in the study every so many seconds;
    grace_s: a RUNNING trial whose job has not done so for this long is failed and rerun (None:
    no heartbeat); max_retry: how often one trial's parameters are rerun after such interruptions.
    """

    metrics: list[str]
    directions: list[str]
    storage: str
    study_name: str
    n_trials: int
    n_jobs: int
    sampler: str
    seed: int | None
    pruner: str
    sampler_args: dict[str, Any] = field(default_factory=dict)
    pruner_args: dict[str, Any] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    heartbeat_s: int | None = None
    grace_s: int | None = None
    max_retry: int | None = None

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> StudySettings:
        plain = {
            k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
            for k, v in options.items()
        }
        if not plain.get("direction"):
            raise UserError("set optimized_direction (or hydra.sweeper.direction) for the study")
        metrics, directions = objective_spec(plain.get("metric"), plain["direction"])
        if len(directions) > 1 and plain.get("pruner", "none") != "none":
            raise UserError("Optuna prunes single-objective studies only: use pruner=none")
        n_jobs = int(plain.get("n_jobs") or 1)
        heartbeat_s = _optional_positive(plain, "heartbeat_s")
        grace_s = _optional_positive(plain, "grace_s")
        if heartbeat_s and grace_s and grace_s <= heartbeat_s:
            raise UserError(
                f"hydra.sweeper.grace_s={grace_s} must exceed heartbeat_s={heartbeat_s} (several "
                "heartbeats, so one late beat does not fail a live trial)"
            )
        retry = plain.get("max_retry", 3)
        if retry is not None and (
            isinstance(retry, bool) or not isinstance(retry, int) or retry < 0
        ):
            raise UserError(
                f"hydra.sweeper.max_retry={retry!r} must be a whole number >= 0, or null"
            )
        return cls(
            metrics=metrics,
            directions=directions,
            storage=str(plain["storage"]),
            study_name=str(plain["study_name"]),
            n_trials=int(plain.get("n_trials", 20)),
            n_jobs=n_jobs if n_jobs > 0 else os.cpu_count() or 1,
            sampler=str(plain.get("sampler", "tpe")),
            seed=plain.get("seed"),
            pruner=str(plain.get("pruner", "none")),
            sampler_args=dict(plain.get("sampler_args") or {}),
            pruner_args=dict(plain.get("pruner_args") or {}),
            params={str(k): str(v) for k, v in (plain.get("params") or {}).items()},
            heartbeat_s=heartbeat_s,
            grace_s=(grace_s or 10 * heartbeat_s) if heartbeat_s else None,
            max_retry=retry,
        )
