"""scripts/plot_gan_curves.py: a resumed run's parts join into one curve whose clock continues,
and the figure is written (also with runs drawn by iteration only)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cnngan.callbacks.gan_metrics import HISTORY_FILE
from tests.conftest import REPO_ROOT

if str(REPO_ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "scripts"))

import plot_gan_curves  # noqa: E402


def write_history(run_dir: Path, points: list[tuple[int, float, float]]) -> Path:
    run_dir.mkdir(parents=True)
    scores = [{"iteration": i, "time_s": t, "fid": f} for i, t, f in points]
    (run_dir / HISTORY_FILE).write_text(json.dumps({"prefix": "val/", "scores": scores}))
    return run_dir


def test_resumed_parts_make_one_curve_with_a_continuing_clock(tmp_path: Path) -> None:
    first = write_history(tmp_path / "a", [(100, 60.0, 90.0), (200, 120.0, 70.0)])
    second = write_history(tmp_path / "b", [(300, 60.0, 60.0)])
    minutes, iterations, fids = plot_gan_curves.read_curve([first, second], "fid")
    assert minutes == [1.0, 2.0, 3.0]
    assert iterations == [100, 200, 300] and fids == [90.0, 70.0, 60.0]


def test_the_figure_is_written(tmp_path: Path) -> None:
    first = write_history(tmp_path / "a", [(100, 60.0, 90.0), (200, 120.0, 70.0)])
    other = write_history(tmp_path / "c", [(100, 99.0, 80.0)])
    out = tmp_path / "fig.png"
    plot_gan_curves.main(
        [
            "--runs",
            f"default={first}",
            f"screened={other}",
            "--untimed",
            "screened",
            "--out",
            str(out),
            "--goal",
            "40",
        ]
    )
    assert out.stat().st_size > 10_000
