"""cnngan's Optuna sweeper: `hydra/sweeper=cnngan_optuna` (conf/hparams_search/*_optuna.yaml).

Hydra imports every module of `hydra_plugins` at each start, so this one stays light: the config
schema and the plugin class; Optuna and the study loop (cnngan.sweeps.study) load only when a sweep
runs.
What the options mean: conf/hparams_search/classifier_optuna.yaml and the README.
"""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


@dataclass
class CnnganOptunaSweeperConf:
    _target_: str = "hydra_plugins.cnngan_sweepers.optuna_sweeper.CnnganOptunaSweeper"
    # metric name(s) and direction(s) (maximize | minimize): the task config's by default
    metric: Any = "${oc.select:optimized_metric,null}"
    direction: Any = "${oc.select:optimized_direction,null}"
    # any SQLAlchemy URL; the default keeps the study next to its jobs (one machine). Jobs on
    # several machines: a database server, e.g. postgresql://user@host:5432/db (docs/search.md)
    storage: Any = "sqlite:///${hydra.sweep.dir}/optuna.db"
    study_name: str = "${hydra.job.name}"
    # the study's total number of trials (a resumed study runs only the rest)
    n_trials: int = 20
    # trials running at once; default: the launcher's n_jobs (joblib: a batch ends when its last
    # job ends) or array_parallelism (SLURM: a slot is refilled as soon as its trial ends)
    n_jobs: Any = (
        "${oc.select:hydra.launcher.n_jobs,${oc.select:hydra.launcher.array_parallelism,1}}"
    )
    # tpe | random | cmaes | grid | qmc, seeded with `seed`; sampler_args (a dict) go to its constructor
    sampler: str = "tpe"
    sampler_args: Any = None
    seed: Any = None
    # none | median | hyperband | successive_halving; pruner_args (a dict) go to its constructor
    pruner: str = "none"
    pruner_args: Any = None
    # seconds between a running job's heartbeats (null: none); a trial not heard from for
    # grace_s seconds is failed and its parameters run again, at most max_retry times
    heartbeat_s: Any = 30
    grace_s: Any = 600
    max_retry: Any = 3
    # search space in Hydra's override grammar: interval(), choice(), range(), tag(log, ...)
    params: dict[str, str] = field(default_factory=dict)


ConfigStore.instance().store(
    group="hydra/sweeper", name="cnngan_optuna", node=CnnganOptunaSweeperConf, provider="cnngan"
)


class CnnganOptunaSweeper(Sweeper):
    """An Optuna study over Hydra jobs: ask a batch of trials, launch them, tell their results."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.launcher: Any = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        from hydra.core.plugins import Plugins

        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> Any:
        from cnngan.sweeps.study import StudySettings, run_study

        return run_study(self, StudySettings.from_options(self.options), arguments)
