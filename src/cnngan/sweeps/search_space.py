"""Hydra's override grammar -> Optuna distributions, and trial parameters -> job overrides.

key: choice(a, b, c)  or  a,b,c       -> categorical
key: range(1, 9, 2)                   -> int (or float) with that step: 1, 3, 5, 7
key: interval(0.0, 0.5)               -> float in [0.0, 0.5]
key: tag(log, interval(1e-4, 1e-2))   -> float, log scale; tag(int, ...) -> int
key: value                            -> fixed: the same override for every trial
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import (
    ChoiceSweep,
    IntervalSweep,
    Override,
    RangeSweep,
    Transformer,
)
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from cnngan.core.errors import UserError

_PRIMITIVE = (str, int, float, bool, type(None))


def _choice(override: Override) -> CategoricalDistribution:
    value = override.value()
    assert isinstance(value, ChoiceSweep)
    if all(isinstance(v, _PRIMITIVE) for v in value.list):
        return CategoricalDistribution(list(value.list))
    # lists or dicts as choices travel as their override strings
    return CategoricalDistribution(list(override.sweep_iterator(transformer=Transformer.encode)))


def _range(value: RangeSweep) -> BaseDistribution:
    assert value.start is not None and value.stop is not None
    step = value.step if value.step is not None else 1
    n = int((value.stop - value.start) / step - 1e-9) + 1  # range() excludes stop
    high = value.start + (n - 1) * step
    if all(isinstance(v, int) for v in (value.start, value.stop, step)):
        return IntDistribution(int(value.start), int(high), step=int(step))
    return FloatDistribution(float(value.start), float(high), step=float(step))


def _interval(value: IntervalSweep) -> BaseDistribution:
    assert value.start is not None and value.end is not None
    log = "log" in value.tags
    if "int" in value.tags:
        return IntDistribution(int(value.start), int(value.end), log=log)
    return FloatDistribution(float(value.start), float(value.end), log=log)


def distribution(override: Override) -> BaseDistribution:
    value = override.value()
    if isinstance(value, RangeSweep) and not value.shuffle:
        return _range(value)
    if isinstance(value, IntervalSweep):
        return _interval(value)
    if override.is_discrete_sweep():
        return _choice(override)
    raise UserError(f"the Optuna sweeper cannot search {override.input_line}")


def search_space(
    params: Mapping[str, str], arguments: Sequence[str]
) -> tuple[dict[str, BaseDistribution], list[str]]:
    """(distributions by key, fixed overrides) from hydra.sweeper.params and the command line;
    for a key given twice the command line wins (`data.batch_size=64` fixes a searched key)."""
    lines = [f"{k}={v}" for k, v in params.items()] + list(arguments)
    space: dict[str, BaseDistribution] = {}
    fixed: dict[str, str] = {}
    for override in OverridesParser.create().parse_overrides(lines):
        key = override.get_key_element()
        space.pop(key, None)
        fixed.pop(key, None)
        if override.is_sweep_override():
            space[key] = distribution(override)
        else:
            fixed[key] = f"{key}={override.get_value_element_as_str()}"
    return space, list(fixed.values())


def grid_of(space: Mapping[str, BaseDistribution]) -> dict[str, list[Any]]:
    """The grid sampler's search space: every value of each (discrete) distribution."""
    grid: dict[str, list[Any]] = {}
    for key, dist in space.items():
        if isinstance(dist, CategoricalDistribution):
            grid[key] = list(dist.choices)
        elif dist.step is not None and not getattr(dist, "log", False):
            n = round((dist.high - dist.low) / dist.step) + 1
            grid[key] = [dist.low + i * dist.step for i in range(n)]
        else:
            raise UserError(f"sampler=grid needs choice() or range() for {key}, not an interval")
    return grid


def quote(value: str) -> str:
    """A string as a quoted value of Hydra's override grammar."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def as_override(key: str, value: Any) -> str:
    """`key=value` for a sampled parameter (strings that came from the grammar stay as they were)."""
    if value is None:
        return f"{key}=null"
    if isinstance(value, bool):
        return f"{key}={str(value).lower()}"
    if isinstance(value, str) and any(c in value for c in " \t'\"=\\"):
        return f"{key}={quote(value)}"
    return f"{key}={value}"
