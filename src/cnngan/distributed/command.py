"""The command line an extra DDP rank runs.

Under Hydra it replays the current job, not `sys.argv`: in a multirun `sys.argv` holds the sweep
(`-m lr=1e-3,1e-2`), under joblib or submitit it is the worker's bootstrap command.
"""

from __future__ import annotations

import importlib.util
import os
import sys

# Hydra overrides that belong to the sweep or to the parent's run dir, never to a rank's command.
_PARENT_ONLY_HYDRA_KEYS = (
    "hydra.mode",
    "hydra.run.dir",
    "hydra.output_subdir",
    "hydra.job.name",
    "hydra.sweep",
    "hydra.sweeper",
    "hydra/sweeper",
    "hydra.launcher",
    "hydra/launcher",
    "hydra.callbacks",
)


def is_parent_only(override: str) -> bool:
    """True for a Hydra override a rank's command must not repeat (sweep, launcher, run dir)."""
    key = override.lstrip("+~").split("=", 1)[0]
    return any(key == k or key.startswith(k + ".") for k in _PARENT_ONLY_HYDRA_KEYS)


def _main_module() -> str | None:
    """The module the parent was started with (`python -m pkg.mod`), or None for a script."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return spec.name if spec is not None else None


def _entry_module(config_name: str) -> str | None:
    """The module to run for a rank: `cnngan.<config_name>` (train, eval, ...) when it exists,
    else the module the parent was started with."""
    candidate = f"cnngan.{config_name}"
    if importlib.util.find_spec(candidate) is not None:
        return candidate
    return _main_module()


def _python_command(module: str | None) -> list[str]:
    if module:
        return [sys.executable, "-m", module]
    return [sys.executable, os.path.abspath(sys.argv[0])]


def script_command() -> list[str]:
    """Outside Hydra: the parent's own command line, run again."""
    return _python_command(_main_module()) + sys.argv[1:]


def hydra_child_command(
    local_rank: int, entry_module: str | None = None
) -> tuple[list[str], str | None]:
    """The command and working directory that start `local_rank` of the current Hydra job: the
    job's config source and overrides (no sweep lists), in RUN mode, in this job's output dir."""
    from hydra.core.hydra_config import HydraConfig

    hc = HydraConfig.get()
    command = _python_command(entry_module or _entry_module(hc.job.config_name))
    command.append(f"--config-name={hc.job.config_name}")
    for source in hc.runtime.config_sources:
        if source.schema != "file":
            continue
        if source.provider == "main":  # the same primary config dir, even if given by -cp
            command.append(f"--config-path={source.path}")
        elif source.provider == "command-line":  # --config-dir
            command.append(f"--config-dir={source.path}")
    command += [o for o in hc.overrides.hydra if not is_parent_only(o)]
    command += list(hc.overrides.task)
    command += [
        f'hydra.run.dir="{hc.runtime.output_dir}"',
        "hydra.output_subdir=null",
        f"hydra.job.name={hc.job.name}_rank{local_rank}",
        "hydra.mode=RUN",
    ]
    return command, hc.runtime.cwd


def child_command(local_rank: int, entry_module: str | None = None) -> tuple[list[str], str | None]:
    """The command and working directory of `local_rank`, under Hydra or not."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return hydra_child_command(local_rank, entry_module)
    return script_command(), None
