"""torch.compile of a model's nets as `model.compile` asks: false (eager), true (torch's defaults)
or a mapping of torch.compile's keyword arguments, so a mode or backend is a config value:

    cnngan-train model.compile=true
    cnngan-train "model.compile={mode: max-autotune-no-cudagraphs}"
    cnngan-train "model.compile={dynamic: false, fullgraph: true}"

Nets are compiled in place (`nn.Module.compile`), so parameter names, and with them checkpoints,
stay those of the eager nets.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

CompileSetting = bool | Mapping[str, Any] | None

# torch.compile's keyword arguments (mode, backend, dynamic, fullgraph, options, ...)
COMPILE_OPTIONS = frozenset(inspect.signature(torch.compile).parameters) - {"model"}


def compile_options(setting: CompileSetting) -> dict[str, Any] | None:
    """torch.compile's keyword arguments for `setting`; None: stay eager.

    Raises ValueError naming the unknown option (or the wrong kind of value) and the known ones.
    """
    if setting is None or setting is False:
        return None
    if setting is True:
        return {}
    if isinstance(setting, Mapping):
        unknown = sorted(set(setting) - COMPILE_OPTIONS)
        if unknown:
            raise ValueError(
                f"model.compile: unknown torch.compile option(s) {unknown}; "
                f"known: {sorted(COMPILE_OPTIONS)}"
            )
        return dict(setting)
    raise ValueError(
        f"model.compile must be true, false or a mapping of torch.compile options "
        f"(e.g. {{mode: max-autotune-no-cudagraphs}}), got {setting!r}"
    )


def compile_in_place(nets: Iterable[nn.Module], setting: CompileSetting) -> None:
    """Compile every net with the options of `setting`; nothing when it says eager."""
    options = compile_options(setting)
    if options is None:
        return
    for net in nets:
        net.compile(**options)
