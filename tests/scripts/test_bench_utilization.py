"""`make bench`'s distance to the limit and its interval: FLOPs counted as a hand count says,
split into forward and backward inside a real Lightning fit; the interleaved pairs run in the
order promised; the t-interval on log ratios and the presets; a quick run writes it all.

Speed itself is never asserted (shared, noisy machines).
"""

from __future__ import annotations

import math
import statistics
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from scipy import stats as scipy_stats
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from tests.conftest import REPO_ROOT

if str(REPO_ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "scripts"))

from bench import cli, table  # noqa: E402
from bench.contenders import FP32, compose  # noqa: E402
from bench.flops import StepFlops, count_step  # noqa: E402
from bench.interleave import CNNGAN, PLAIN_SIDE, Interleave, block_order, block_plan  # noqa: E402
from bench.peak import counted_flops  # noqa: E402
from bench.plain import PLAIN  # noqa: E402
from bench.presets import estimate_seconds, expand_comparisons, resolve_advice  # noqa: E402
from bench.rounds import run_rounds  # noqa: E402
from bench.stats import log_ratio_interval, rounds_to_resolve  # noqa: E402
from bench.utilisation import utilisation_rows  # noqa: E402

# one 3x3 convolution (3 -> 8 channels, 16x16, padding 1) and one linear layer (8*16*16 -> 10),
# batch 4; 2 FLOPs per multiply-add
N, C_IN, C_OUT, SIDE, K, CLASSES = 4, 3, 8, 16, 3, 10
CONV_FWD = 2 * N * C_OUT * SIDE * SIDE * C_IN * K * K
LINEAR_FWD = 2 * N * (C_OUT * SIDE * SIDE) * CLASSES


@pytest.fixture(autouse=True)
def keep_torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


class ConvLinear(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(C_IN, C_OUT, K, padding=1)
        self.fc = nn.Linear(C_OUT * SIDE * SIDE, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(F.relu(self.conv(x)).flatten(1))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def _loader(batches: int = 3) -> DataLoader:
    data = TensorDataset(torch.randn(N * batches, C_IN, SIDE, SIDE), torch.arange(N * batches) % 10)
    return DataLoader(data, batch_size=N)


def _trainer(callbacks: list, max_steps: int) -> L.Trainer:
    return L.Trainer(
        accelerator="cpu",
        max_steps=max_steps,
        callbacks=callbacks,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )


def test_flop_counter_matches_a_hand_count_of_one_conv_and_one_linear_layer() -> None:
    conv, fc = nn.Conv2d(C_IN, C_OUT, K, padding=1), nn.Linear(C_OUT * SIDE * SIDE, CLASSES)
    x = torch.randn(N, C_IN, SIDE, SIDE)
    assert counted_flops(lambda: conv(x)) == CONV_FWD
    h = torch.randn(N, C_OUT * SIDE * SIDE)
    assert counted_flops(lambda: fc(h)) == LINEAR_FWD
    # backward: the weight gradient costs one forward; the input gradient another, where needed
    out = conv(x.requires_grad_(True))
    assert counted_flops(lambda: out.sum().backward()) == 2 * CONV_FWD
    out = conv(x.detach())
    assert counted_flops(lambda: out.sum().backward()) == CONV_FWD


def test_step_flops_split_forward_and_backward_inside_a_real_fit() -> None:
    """Batch 1 of a real fit: forward = conv + linear; backward = conv's weight gradient (its
    input needs none) + linear's weight and input gradients."""
    counter = StepFlops(batch_index=1)
    _trainer([counter], max_steps=3).fit(ConvLinear(), _loader())
    backward = CONV_FWD + 2 * LINEAR_FWD
    assert counter.backward_passes == 1
    assert counter.backward_total == backward
    assert counter.total - counter.backward_total == CONV_FWD + LINEAR_FWD


@pytest.mark.parametrize("task", ["classifier", "gan"])
def test_cnngan_step_and_plain_step_count_the_same_flops(task: str, tmp_path: Path) -> None:
    """Equal work, equal arithmetic: the FLOPs counted over cnngan's real step are the plain
    loop's (which the equal-weights test shows does cnngan's work)."""
    torch.set_num_threads(1)
    cfg = compose(task, FP32, tmp_path, data="digits")
    counted = count_step(cfg)
    run = PLAIN[task](cfg, total_steps=2)
    plain = counted_flops(run.step) / int(cfg.data.batch_size)
    assert counted["flops_per_image"] == pytest.approx(plain, rel=1e-9)
    assert counted["backward_passes"] == (1 if task == "classifier" else 2)
    forward, backward = counted["forward_flops_per_image"], counted["backward_flops_per_image"]
    assert forward > 0 and backward > 0
    if task == "classifier":  # weight and input gradients, but none for the images
        assert forward < backward < 2 * forward


def test_interleaved_blocks_run_in_abba_order_inside_a_real_fit() -> None:
    assert block_plan(100, 25) == (4, 25) and block_plan(90, 25) == (4, 25)
    assert block_plan(4, 25) == (1, 4)
    assert block_order(3) == [CNNGAN, PLAIN_SIDE, PLAIN_SIDE, CNNGAN, CNNGAN, PLAIN_SIDE]
    assert block_order(2, plain_first=True) == [PLAIN_SIDE, CNNGAN, CNNGAN, PLAIN_SIDE]
    for plain_first, expected in ((False, [5, 5, 5, 5, 5, 5]), (True, [2, 2, 2, 8, 8, 8])):
        ran_after: list[int] = []  # the cnngan batch count at each plain step
        pacer = Interleave(2, 3, block_order(2, plain_first), lambda: None, torch.device("cpu"))
        pacer.plain_step = lambda p=pacer, seen=ran_after: seen.append(p.batches)
        _trainer([pacer], max_steps=2 + 6).fit(ConvLinear(), _loader(batches=8))
        # warm-up 2 batches; blocks of 3: c p p c (plain after batch 5) or p c c p (2 and 8)
        assert ran_after == expected
        assert pacer.blocks == {CNNGAN: 2, PLAIN_SIDE: 2} and not pacer.queue
        assert all(wall > 0 and cpu > 0 for wall, cpu in pacer.totals.values())


def test_rounds_measure_a_pair_together_where_they_can() -> None:
    """cnngan/plain pairs go to `measure_pair` (first leading, alternating by round); a pair it
    declines (two cnngan contenders) is measured one contender after the other."""
    calls: list[tuple[str, ...]] = []
    speed = {"cnngan": 90.0, "plain": 100.0, "cnngan+bf16": 135.0}

    def measure(name: str) -> tuple[float, float]:
        calls.append(("one", name))
        return speed[name], speed[name] / 2

    def measure_pair(first: str, second: str) -> dict | None:
        if "plain" not in (first, second):
            return None
        calls.append(("pair", first, second))
        return {n: (speed[n], speed[n] / 2) for n in (first, second)}

    comparisons = {"framework": ("cnngan", "plain"), "bf16": ("cnngan+bf16", "cnngan")}
    speeds, ratios = run_rounds(comparisons, 2, measure, lambda *a: None, measure_pair)
    assert calls == [
        ("pair", "cnngan", "plain"),
        ("one", "cnngan+bf16"),
        ("one", "cnngan"),
        ("one", "cnngan"),  # round 2: rotated, and each pair flipped
        ("one", "cnngan+bf16"),
        ("pair", "plain", "cnngan"),
    ]
    assert ratios["framework"] == [(0.9, 0.9)] * 2 and ratios["bf16"] == [(1.5, 1.5)] * 2
    assert len(speeds["cnngan"]) == 4


def test_log_ratio_interval_is_the_t_interval_of_the_mean_log_ratio() -> None:
    ratios = [0.95, 0.97, 1.01, 0.99, 0.96, 0.98]
    logs = [math.log(r) for r in ratios]
    margin = scipy_stats.t.ppf(0.975, 5) * statistics.stdev(logs) / math.sqrt(6)
    out = log_ratio_interval(ratios)
    assert out["gmean"] == pytest.approx(math.exp(statistics.fmean(logs)))
    assert out["t_low"] == pytest.approx(math.exp(statistics.fmean(logs) - margin))
    assert out["t_high"] == pytest.approx(math.exp(statistics.fmean(logs) + margin))
    assert out["halfwidth"] == pytest.approx((out["t_high"] - out["t_low"]) / 2)
    assert out["resolved"] is (out["halfwidth"] <= 0.03) and out["resolved"]
    # the 2026-12-03 classifier's framework ratios (one run after the other): not resolved
    wide = [0.7712, 0.8818, 0.9955, 1.0428, 0.9533, 1.0251, 0.8973, 0.7304, 0.9328]
    assert not log_ratio_interval(wide)["resolved"]
    assert math.isnan(log_ratio_interval([0.98])["halfwidth"])


def test_rounds_to_resolve_is_the_fewest_rounds_within_the_resolution() -> None:
    for sd in (0.02, 0.05, 0.1):
        n = rounds_to_resolve(sd)

        def half(k: int, sd: float = sd) -> float:
            return scipy_stats.t.ppf(0.975, k - 1) * sd / math.sqrt(k)

        assert half(n) <= 0.03 < half(n - 1)
    comparisons = {
        "framework": {"wall": {"log_sd": 0.1, "resolved": False}},
        "bf16": {"wall": {"log_sd": 0.01, "resolved": True}},
    }
    assert resolve_advice(comparisons, rounds=10) == {"framework": rounds_to_resolve(0.1)}


def test_presets_set_defaults_that_explicit_options_override() -> None:
    quick = cli.parse_args(["--quick"])
    assert (quick.steps, quick.rounds, quick.comparisons, quick.quick_peaks) == (
        25,
        3,
        "framework",
        True,
    )
    assert cli.parse_args(["--quick", "--rounds", "5"]).rounds == 5
    full = cli.parse_args(["--full"])
    assert full.steps == 200 and full.rounds == 10 and full.block == 25
    assert "bf16-if-native" not in full.comparisons
    option = "framework,bf16-if-native"
    assert expand_comparisons(option, "bf16-mixed") == "framework,bf16"
    assert expand_comparisons(option, "32-true") == "framework"


def test_duration_estimate_adds_up_rounds_pairs_and_set_up() -> None:
    args = cli.parse_args(["--steps", "90", "--warmup", "10", "--rounds", "4"])
    args.startup_runs, args.profile_steps = 0, 0
    calibration = {
        "classifier": {
            "per_step": {"cnngan": 0.03, "plain": 0.02},
            "build_s": 5.0,
            "pairs": [("cnngan", "plain"), ("cnngan", "plain+torch_defaults")],
        }
    }
    per_round = 2 * (5.0 + 100 * (0.03 + 0.02))
    assert estimate_seconds(calibration, args) == pytest.approx(4 * per_round + 5.0 + 30.0)


def test_utilisation_rows_and_tables_say_what_was_measured() -> None:
    flops = {
        "flops_per_image": 2e6,
        "forward_flops_per_image": 7e5,
        "backward_flops_per_image": 1.3e6,
    }
    peaks = {"fp32": {"matmul_gflops": 100.0, "conv_gflops": 80.0, "peak_gflops": 100.0}}
    contenders = {
        "cnngan": {"imgs_per_s": {"median": 10_000.0}},
        "cnngan+bf16": {"imgs_per_s": {"median": 15_000.0}},  # no bf16 peak measured: no row
    }
    (row,) = utilisation_rows(contenders, flops, peaks)
    assert row["gflops"] == pytest.approx(20.0)
    assert row["utilisation"] == pytest.approx(0.2) and row["utilisation_conv"] == pytest.approx(
        0.25
    )
    peaks["fp32"] |= {"matmul": "2048x2048 @ 2048x2048", "conv": "3x3"}
    text = table.utilisation_table(
        {"peaks": peaks, "tasks": {"gan": {"flops": flops, "rows": [row]}}}
    )
    assert "| gan | `cnngan` | fp32 | 0.7 + 1.3 | 10,000 | 20.0 | 20.0% | 25.0% |" in text
    wall = log_ratio_interval([0.97, 0.98, 0.975]) | {"n": 3}
    assert table._resolution(wall).endswith(": resolved")
    assert table._resolution(log_ratio_interval([0.8, 1.0, 0.9]) | {"n": 3}).endswith(
        "not resolved"
    )


@pytest.mark.slow
def test_quick_run_writes_interval_utilisation_and_duration(tmp_path: Path, capsys) -> None:
    args = ["--quick", "--data", "digits", "--steps", "4", "--warmup", "2", "--rounds", "3"]
    args += ["--block", "2", "--threads", "1", "--augment-images", "0", "--profile-steps", "0"]
    results = cli.main([*args, "--out", str(tmp_path)])
    saved = cli.results_io.load(results["path"])
    assert saved["settings"]["preset"] == "quick" and saved["settings"]["block"] == 2
    assert saved["duration"]["estimated_s"] > 0 and saved["duration"]["measured_s"] > 0
    for task in ("classifier", "gan"):
        framework = saved["tasks"][task]["comparisons"]["framework"]
        assert framework["measured"] == "interleaved blocks"
        assert (
            framework["wall"]["n"] == 3 and framework["wall"]["t_low"] <= framework["wall"]["gmean"]
        )
        assert isinstance(framework["wall"]["resolved"], bool)
        rows = saved["utilisation"]["tasks"][task]["rows"]
        assert {r["contender"] for r in rows} == {"cnngan", "plain"}
        assert all(r["utilisation"] > 0 for r in rows)
    assert saved["utilisation"]["peaks"]["fp32"]["peak_gflops"] > 0
    out = capsys.readouterr().out
    assert "expected duration: about" in out and "Distance to the limit" in out
    assert "resolved" in out


def test_table_for_a_page_without_markers_is_a_user_error(tmp_path: Path, capsys) -> None:
    page = tmp_path / "page.md"
    page.write_text("# no markers\n")
    results = str(REPO_ROOT / "docs" / "bench" / "results_2026-12-03.json")
    with pytest.raises(SystemExit) as stop:
        cli.main(["--table", results, "--readme", str(page)])
    assert stop.value.code == 2 and "lacks the markers" in capsys.readouterr().err
    assert page.read_text() == "# no markers\n"
    page.write_text(f"# Speed\n{table.BEGIN}\nOLD-NUMBERS\n{table.END}\n")
    cli.main(["--table", results, "--readme", str(page)])
    written = page.read_text()
    assert (
        "OLD-NUMBERS" not in written and "Source: `docs/bench/results_2026-12-03.json`" in written
    )
