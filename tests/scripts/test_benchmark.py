"""`make bench` (scripts/benchmark.py + scripts/bench/): the contenders do the same work, the
rounds pair and alternate as promised, and results.json and the README table carry everything.

Speed itself is never asserted (shared, noisy machines).
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.conftest import REPO_ROOT

if str(REPO_ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "scripts"))

from bench import cli, table  # noqa: E402
from bench.cnngan_side import cnngan_fit  # noqa: E402
from bench.contenders import FP32, TASKS, compose  # noqa: E402
from bench.plain import run_plain  # noqa: E402
from bench.rounds import pair_order, run_rounds  # noqa: E402
from bench.startup import first_step_seconds  # noqa: E402
from bench.stats import median_ci  # noqa: E402

TINY = ["--data", "digits", "--steps", "4", "--warmup", "2", "--rounds", "2", "--threads", "1"]


@pytest.fixture(autouse=True)
def keep_torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _max_difference(a: torch.nn.Module, b: torch.nn.Module) -> float:
    pairs = zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    return max(float((x.float() - y.float()).abs().max()) for x, y in pairs)


@pytest.mark.parametrize("task", ["classifier", "gan"])
def test_plain_loop_and_cnngan_leave_equal_weights(task: str, tmp_path: Path) -> None:
    """At cnngan's settings and seed, on cnngan's batches, the plain loop does cnngan's work."""
    torch.set_num_threads(1)
    cfg = compose(task, FP32, tmp_path, data="digits")  # the plain loop runs fp32
    _, plain = run_plain(task, cfg, warmup=2, steps=4, data="loader")
    _, model = cnngan_fit(cfg, warmup=2, steps=4)
    names = ["net"] if task == "classifier" else ["generator", "discriminator"]
    initial = compose(task, FP32, tmp_path, data="digits")
    _, untrained = run_plain(task, initial, warmup=0, steps=1, data="loader")
    for name in names:
        assert _max_difference(plain.nets[name], getattr(model, name)) < 1e-5, name
        # ... and the weights did move: equal because of the same work, not of no work
        assert _max_difference(untrained.nets[name], getattr(model, name)) > 1e-4, name
    if task == "gan":
        ema = model.sampling_generator(use_ema=True)
        assert _max_difference(plain.nets["generator_ema"], ema) < 1e-5


def test_contenders_are_the_settings_they_claim(tmp_path: Path) -> None:
    for task in ("classifier", "gan"):
        contenders = TASKS[task].contenders
        default = compose(task, contenders["plain"].overrides, tmp_path, data="digits")
        torch_defaults = compose(
            task, contenders["plain+torch_defaults"].overrides, tmp_path, data="digits"
        )
        assert default.data.channels_last and not torch_defaults.data.channels_last
        assert default.model.channels_last and not torch_defaults.model.channels_last
        optimizers = ["optimizer"] if task == "classifier" else ["g_optimizer", "d_optimizer"]
        for opt in optimizers:
            assert torch_defaults.model[opt].get("fused") is None
            assert torch_defaults.model[opt].get("foreach") is None
        # the recipe (what is computed) is the same on every side
        assert default.model.get("ema_decay") == torch_defaults.model.get("ema_decay")
        assert default.data.augment == torch_defaults.data.augment
    competent = compose(
        "classifier", TASKS["classifier"].contenders["plain+competent"].overrides, tmp_path
    )
    assert competent.model.optimizer.fused is True and competent.data.channels_last is True
    bf16 = compose("gan", TASKS["gan"].contenders["cnngan+bf16"].overrides, tmp_path)
    assert bf16.trainer.precision == "bf16-mixed"
    for task in TASKS.values():
        for comparison in task.comparisons.values():
            assert {comparison.numerator, comparison.denominator} <= set(task.contenders)


def test_rounds_alternate_and_take_ratios_within_pairs() -> None:
    pairs = [("cnngan", "plain"), ("cnngan", "plain+torch_defaults")]
    assert pair_order(pairs, 0) == pairs
    assert pair_order(pairs, 1) == [("plain+torch_defaults", "cnngan"), ("plain", "cnngan")]
    runs: list[str] = []
    speed = {"cnngan": 100.0, "plain": 50.0, "plain+torch_defaults": 200.0}

    def measure(name: str) -> tuple[float, float]:
        runs.append(name)
        slow = 1.0 + 0.5 * (len(runs) > 4)  # the machine gets busy halfway: ratios must not move
        return speed[name] / slow, speed[name] / slow

    comparisons = {"framework": pairs[0], "competent": pairs[0], "torch_defaults": pairs[1]}
    speeds, ratios = run_rounds(comparisons, 3, measure, lambda *a: None)
    assert len(runs) == 3 * 4  # a pair shared by two comparisons runs once per round
    assert runs[:2] == ["cnngan", "plain"] and runs[4:6] == ["plain+torch_defaults", "cnngan"]
    assert ratios["framework"] == ratios["competent"] == [(2.0, 2.0)] * 3
    assert ratios["torch_defaults"] == [(0.5, 0.5)] * 3
    assert len(speeds["cnngan"]) == 6


def test_median_confidence_interval_uses_order_statistics() -> None:
    assert median_ci([3.0, 1.0, 2.0, 5.0, 4.0]) == (1.0, 5.0, pytest.approx(0.9375))
    low, high, level = median_ci([float(v) for v in range(1, 10)])  # n=9: 2nd to 8th value
    assert (low, high) == (2.0, 8.0) and level == pytest.approx(1 - 20 / 512)


def test_table_replaces_only_what_lies_between_the_markers() -> None:
    text = f"# R\n\n## Speed\nintro\n{table.BEGIN}\nold numbers\n{table.END}\nafter\n"
    new = table.replace_between_markers(text, "new table")
    assert "old numbers" not in new and "new table" in new
    assert new.startswith("# R\n\n## Speed\nintro\n") and new.endswith(f"{table.END}\nafter\n")
    with pytest.raises(ValueError, match="markers"):
        table.replace_between_markers("no markers here", "x")


def test_the_readme_has_the_table_markers() -> None:
    readme = table.PAGE.read_text()  # docs/speed.md: the README's speed section moved there
    assert readme.index(table.BEGIN) < readme.index(table.END)


def cpu_flags_here() -> set[str]:
    """This CPU's flags, read from /proc/cpuinfo here (not with the benchmark's own code)."""
    found = re.search(r"^flags\s*:(.*)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
    return set(found.group(1).split()) if found else set()


def assert_summary_of_its_values(summary: dict[str, Any], where: str) -> None:
    """A summary's statistics are those of the values it lists (rounded to 4 decimals there)."""
    values = summary["values"]
    assert summary["n"] == len(values) > 0, where
    assert summary["median"] == pytest.approx(statistics.median(values), rel=1e-3), where
    assert summary["min"] == pytest.approx(min(values), rel=1e-3), where
    assert summary["max"] == pytest.approx(max(values), rel=1e-3), where
    assert summary["ci_low"] <= summary["median"] <= summary["ci_high"], where
    if "gmean" in summary:
        assert summary["gmean"] == pytest.approx(statistics.geometric_mean(values), rel=1e-3), where


def assert_ratios_within_pairs(part: dict[str, Any], name: str) -> None:
    """Every ratio of a comparison is one numerator speed over one denominator speed."""
    comparison = part["comparisons"][name]
    for clock, speed in (("wall", "imgs_per_s"), ("cpu", "imgs_per_cpu_s")):
        assert_summary_of_its_values(comparison[clock], f"{name}, {clock}")
        num = part["contenders"][comparison["numerator"]][speed]["values"]
        den = part["contenders"][comparison["denominator"]][speed]["values"]
        assert min(num + den) > 0
        for ratio in comparison[clock]["values"]:
            quotients = [a / b for a in num for b in den]
            assert any(q == pytest.approx(ratio, rel=1e-3) for q in quotients), (name, clock, ratio)


@pytest.mark.slow
def test_benchmark_writes_results_and_the_readme_table(tmp_path: Path, capsys) -> None:
    results = cli.main(
        [*TINY, "--startup-runs", "0", "--profile-steps", "2", "--augment-images", "256"]
        + ["--out", str(tmp_path)]
    )
    saved = cli.results_io.load(results["path"])
    assert Path(results["path"]).parent.parent == tmp_path
    assert saved["date"] and saved["settings"]["threads"] == 1
    assert saved["settings"]["command"].startswith("python scripts/benchmark.py --data digits")
    machine = saved["machine"]
    assert machine["torch"] == torch.__version__ and machine["lightning"] and machine["cpu_model"]
    assert machine["torch_threads"] == 1  # --threads 1 was applied before anything was timed
    flags = cpu_flags_here()
    assert machine["cpu_flags"] and all(
        present == (flag in flags) for flag, present in machine["cpu_flags"].items()
    ), (machine["cpu_flags"], sorted(flags))
    if machine["gpu"] is None:  # precision=auto on this CPU: bf16 only where it is native
        native = bool(flags & {"avx512_bf16", "amx_bf16"})
        assert machine["precision_auto"]["precision"] == ("bf16-mixed" if native else "32-true")
    git = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert saved["git"]["commit"] == git.stdout.strip()
    for task in ("classifier", "gan"):
        part = saved["tasks"][task]
        assert set(part["comparisons"]) == {"framework", "competent", "torch_defaults"}
        assert part["comparisons"]["framework"]["wall"]["n"] == 2  # one per round
        for name in part["comparisons"]:
            assert_ratios_within_pairs(part, name)
        for name, contender in part["contenders"].items():
            assert_summary_of_its_values(contender["imgs_per_s"], f"{task} {name}")
    profile = saved["gan_profile"]
    assert profile["cnngan"]["ops"] and profile["plain"]["ops"]
    ranges = {r["name"] for r in profile["cnngan"]["ranges"]}
    assert {"generator.forward (no_grad)", "generator.forward (grad)"} <= ranges
    out = capsys.readouterr().out
    assert "(a) framework cost" in out and "GAN iteration under torch.profiler" in out

    readme = tmp_path / "README.md"
    readme.write_text(f"## Speed\n{table.BEGIN}\nOLD-NUMBERS\n{table.END}\n## Next\n")
    cli.main(["--table", results["path"], "--readme", str(readme)])
    written = readme.read_text()
    assert "OLD-NUMBERS" not in written and "| classifier | (a) framework cost" in written
    assert saved["git"]["commit"][:10] in written and "## Next" in written
    for task in ("classifier", "gan"):  # the table shows the ratios results.json holds
        wall = saved["tasks"][task]["comparisons"]["framework"]["wall"]
        shown = wall["gmean"] if "gmean" in wall else wall["median"]
        assert f"**{shown:.3f}**" in written, (task, shown)


def test_startup_reader_reports_a_run_that_never_steps() -> None:
    marker = "cnngan-first-optimizer-step-s:"
    cmd = [sys.executable, "-c", "print('config printed'); print('crashed before training')"]
    seconds, tail = first_step_seconds(cmd, dict(os.environ), marker, timeout=60)
    assert seconds is None and "crashed before training" in tail
    cmd = [sys.executable, "-c", f"print('x'); print('{marker} 3.25')"]
    assert first_step_seconds(cmd, dict(os.environ), marker, timeout=60) == (3.25, "")
