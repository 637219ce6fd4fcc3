"""Every private Lightning name cnngan relies on, in one place.

Lightning has no public way to give a strategy a launcher of one's own, nor to choose a
DistributedDataParallel argument after the strategy was built. cnngan needs both:

- its launcher starts the extra DDP ranks with the Hydra job's own command (see
  `cnngan.distributed.lifecycle`). The Trainer asks a strategy for its launcher through the private
  hook `Strategy._configure_launcher()`, which stores it in `Strategy._launcher` (read back through
  the public `Strategy.launcher` property); the launcher base class `_Launcher` is private too.
- `find_unused_parameters="auto"` depends on the LightningModule (manual optimization or not),
  known only when DDP wraps it; Lightning keeps the DDP arguments in `DDPStrategy._ddp_kwargs`
  and passes them to `DistributedDataParallel` in `DDPStrategy._setup_model`.

Tested with Lightning 2.6.6; pyproject.toml bounds `lightning>=2.4,<2.7`.
`tests/scale/test_lightning_private.py` fails, naming the missing or changed name and the
installed Lightning version, when a release moves any of them. Nothing else in cnngan imports or
touches a private Lightning name.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch.strategies import DDPStrategy
from lightning.pytorch.strategies.launchers.launcher import _Launcher

LauncherBase = _Launcher
"""Base class of a Trainer launcher: `launch(function, *args, trainer=None, **kwargs)`,
`kill(signum)` and the property `is_interactive_compatible`."""


class CustomLauncherHook:
    """Mixin for a Lightning strategy: the Trainer gets the launcher `make_launcher()` returns,
    or the strategy's own one where that returns None."""

    def make_launcher(self) -> LauncherBase | None:
        return None

    def _configure_launcher(self) -> None:  # Lightning's private hook, called by the Trainer
        launcher = self.make_launcher()
        if launcher is None:
            super()._configure_launcher()  # type: ignore[misc]
        else:
            self._launcher = launcher


def set_ddp_argument(strategy: DDPStrategy, name: str, value: Any) -> None:
    """Set a `DistributedDataParallel` argument (e.g. `find_unused_parameters`) of `strategy`;
    takes effect when the strategy wraps the model (`configure_ddp`)."""
    strategy._ddp_kwargs[name] = value
