"""metrics.json: the one file every run writes, in one flat shape.

{"test/acc": 0.92, "time/wall_s": 81.2, "protocol/evaluator": "fashion_mnist", ...}

Metric values are floats (null for NaN/inf); how a score was measured (evaluator, reference split,
sample counts, ...) sits next to them under `protocol/<key>`, so every reader sees one level.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cnngan.core.json_safe import read_json, write_json

PROTOCOL_PREFIX = "protocol/"


def plain_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Tensors/numbers -> flat {name: float}, sorted by name; values that are not numbers dropped."""
    out = {}
    for name, value in metrics.items():
        if isinstance(value, bool | str) or value is None:
            continue
        try:
            out[str(name)] = float(value)
        except (TypeError, ValueError):
            continue
    return dict(sorted(out.items()))


def write_metrics(
    metrics: Mapping[str, Any], run_dir: str | Path, protocol: Mapping[str, Any] | None = None
) -> Path:
    """Write `<run_dir>/metrics.json`: the numeric metrics, then the protocol under its own keys."""
    values: dict[str, Any] = dict(plain_metrics(metrics))
    for key, value in sorted((protocol or {}).items()):
        values[PROTOCOL_PREFIX + str(key)] = value
    return write_json(Path(run_dir) / "metrics.json", values)


def read_metrics(path: str | Path) -> dict[str, Any]:
    """A metrics.json (file or run folder) as a flat dict."""
    path = Path(path)
    return read_json(path / "metrics.json" if path.is_dir() else path)
