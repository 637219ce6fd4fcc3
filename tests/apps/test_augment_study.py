"""scripts/augment_study without training: the plan's cells and stages, resuming only what
is missing, and the table's pairing and interval math on run folders written as runs write them
(the real config composition, save_resolved_config, write_metrics)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cnngan.run.entry import save_resolved_config
from cnngan.run.metrics_file import write_metrics
from tests.conftest import REPO_ROOT

if str(REPO_ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "scripts"))

from augment_study import cli  # noqa: E402
from augment_study.plan import FULL, Plan  # noqa: E402
from augment_study.runner import StageFailed, run_stage  # noqa: E402
from augment_study.stages import Stage, all_stages, cell_dir, cover_blocks  # noqa: E402


def test_plan_cells_leave_out_gan_all_at_k_all_and_need_the_right_stage_1() -> None:
    plan = Plan(k=["10", "all"], seeds=[1, 2], levers=["ratio_1", "gan_all"])
    assert plan.levers == ["real", "ratio_1", "gan_all"]
    assert len(plan.cells()) == 2 * 3 * 2 - 2  # no (all, gan_all, seed)
    assert ("all", "gan_all", 1) not in plan.cells()
    assert plan.gan_ks() == ["10", "all"] and plan.gan_all_ks() == ["10"]
    assert plan.k_classifier_ks() == ["10"]  # pseudo-labels only; filter_k would need every k
    assert Plan(levers=["ratio_05"]).k_classifier_ks() == []
    with pytest.raises(ValueError, match=r"unknown lever\(s\) \['ratio_3'\]"):
        Plan(levers=["ratio_3"])


def test_pseudo_label_control_needs_the_k_classifier_and_no_gan() -> None:
    plan = Plan(k=["10", "all"], seeds=[1], levers=["pseudo_label"])
    assert plan.cells() == [("10", "real", 1), ("10", "pseudo_label", 1), ("all", "real", 1)]
    assert plan.gan_ks() == [] and plan.gan_all_ks() == [] and plan.k_classifier_ks() == ["10"]
    assert "pseudo_label" in FULL.levers


def test_cover_blocks_hold_exactly_the_missing_cells() -> None:
    plan = Plan(k=["10", "25", "all"], seeds=[1, 2, 3], levers=["ratio_1", "gan_all"])
    cells = [c for c in plan.cells() if c not in {("10", "real", 2), ("25", "gan_all", 3)}]
    blocks = cover_blocks(cells)
    covered = [
        (k, lever, s) for ks, levers, seeds in blocks for k in ks for lever in levers for s in seeds
    ]
    assert sorted(covered) == sorted(cells) and len(covered) == len(set(covered))
    assert len(blocks) <= 5
    fresh = cover_blocks(plan.cells())
    assert len(fresh) == 2  # k = 10, 25 with every lever; k = all without gan_all


def test_dry_run_plans_multiruns_and_a_finished_cell_is_not_run_again(tmp_path: Path) -> None:
    args = ["--k", "10", "all", "--seeds", "1", "2", "--levers", "ratio_1", "--out", str(tmp_path)]
    assert cli.main([*args, "--dry-run"]) == 0
    commands = (tmp_path / "commands.txt").read_text().splitlines()
    assert len(commands) == 3  # gans, gan_scores, one classifier multirun
    assert "-m experiment=augment_gan data.k_per_class=10,all" in commands[0]
    assert "+gan_run=gans/k10,gans/kall" in commands[1]
    grid = commands[2]
    assert "hparams_search=augment_grid" in grid and "augment_lever=real,ratio_1" in grid
    assert "seed=1,2" in grid and "data.k_per_class=10,all" in grid
    write_metrics({"test/acc": 0.5}, cell_dir(tmp_path, "10", "real", 1))
    plan = cli.plan_from(cli.parser().parse_args(args))
    stages = all_stages(plan, tmp_path)
    left = [run for stage in stages if stage.name.startswith("classifiers") for run in stage.runs]
    assert len(left) == 2 * 2 * 2 - 1 and cell_dir(tmp_path, "10", "real", 1) not in left


def test_the_study_runs_as_python_scripts_augment_study(tmp_path: Path) -> None:
    """The documented command line (`make augment-study`) from another folder: the package runs
    as a program and finds its own modules and run_logged."""
    out = tmp_path / "study"
    args = ["--dry-run", "--k", "10", "--seeds", "1", "--levers", "ratio_1", "--out", str(out)]
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "augment_study"), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "hparams_search=augment_grid" in (out / "commands.txt").read_text()
    bad = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "augment_study"), "--k", "ten"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "augment_study: error: argument --k" in bad.stderr


def test_a_bad_k_on_the_command_line_is_one_line(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--k", "ten", "--dry-run"])
    assert info.value.code == 2
    assert "k='ten': give numbers >= 1 or 'all'" in capsys.readouterr().err


def write_cell(make_cfg, out: Path, k: str, lever: str, seed: int, acc: float) -> Path:
    """A finished classifier run of the grid, as cnngan-train leaves it."""
    run = cell_dir(out, k, lever, seed)
    overrides = [
        "experiment=augment_classifier",
        f"augment_lever={lever}",
        f"data.k_per_class={k}",
        f"seed={seed}",
        f"augment_study.dir={out}",
    ]
    save_resolved_config(make_cfg("train", overrides, str(run)), run)
    write_metrics({"test/acc": acc, "val/acc_best": acc}, run)
    return run


def test_summary_pairs_by_seed_with_exact_t_intervals(make_cfg, tmp_path: Path) -> None:
    out = tmp_path / "study"
    for seed, (real, synthetic) in enumerate([(0.70, 0.71), (0.72, 0.745), (0.74, 0.76)], 1):
        write_cell(make_cfg, out, "10", "real", seed, real)
        write_cell(make_cfg, out, "10", "ratio_1", seed, synthetic)
    write_cell(make_cfg, out, "10", "ratio_1", 4, 0.99)  # no real-only partner: not paired
    for seed, (real, synthetic) in enumerate([(0.90, 0.91), (0.91, 0.921), (0.92, 0.932)], 1):
        write_cell(make_cfg, out, "all", "real", seed, real)
        write_cell(make_cfg, out, "all", "ratio_1", seed, synthetic)
    kept = write_cell(make_cfg, out, "10", "filter_k", 1, 0.69)
    (kept / "augment_data.json").write_text(
        json.dumps({"synthetic": {"filter": "k_classifier", "kept_fraction": 0.25}})
    )
    write_cell(make_cfg, out, "10", "pseudo_label", 1, 0.75)
    write_metrics({"fid": 55.5, "cas_acc": 0.6}, out / "gan_scores" / "gans" / "k10")
    history = [{"iteration": i, "fid": f} for i, f in [(250, 80.0), (500, 60.0), (750, 70.0)]]
    (out / "gans" / "k10").mkdir(parents=True)
    (out / "gans" / "k10" / "gan_metrics_history.json").write_text(json.dumps({"scores": history}))

    assert cli.main(["--summary-only", "--out", str(out)]) == 0
    result = json.loads((out / "results.json").read_text())
    rows = {(r["k"], r["lever"]): r for r in result["rows"]}
    assert list(rows) == [
        ("10", "ratio_1"),
        ("10", "filter_k"),
        ("10", "pseudo_label"),
        ("all", "ratio_1"),
    ]
    r = rows[("10", "pseudo_label")]  # real images with k-classifier labels: no GAN to report
    assert r["gan"] is None and r["test_fid"] is None and r["diff_mean"] == pytest.approx(5.0)
    r = rows[("10", "ratio_1")]
    # differences 1.0, 2.5, 2.0 points: mean 11/6, sd sqrt(7/12), t(0.975, 2) = 4.302653
    assert r["seeds"] == [1, 2, 3] and r["n"] == 3
    assert r["real_mean"] == pytest.approx(72.0) and r["synthetic_mean"] == pytest.approx(73.833333)
    assert r["diff_mean"] == pytest.approx(1.833333, abs=1e-6)
    assert r["diff_low"] == pytest.approx(-0.063958, abs=1e-6)
    assert r["diff_high"] == pytest.approx(3.730625, abs=1e-6)
    assert r["verdict"] == "no clear effect"
    assert (r["gan"], r["test_fid"], r["cas_acc"], r["val_fid"], r["iteration"]) == (
        "gans/k10",
        55.5,
        0.6,
        60.0,
        500,
    )
    r = rows[("all", "ratio_1")]  # differences 1.0, 1.1, 1.2: mean 1.1, sd 0.1
    assert (r["diff_low"], r["diff_high"]) == (pytest.approx(0.851586), pytest.approx(1.348414))
    assert r["verdict"] == "helps" and r["gan"] == "gans/kall" and r["test_fid"] is None
    r = rows[("10", "filter_k")]
    assert r["n"] == 1 and r["diff_low"] is None and r["verdict"] == "n < 2"
    assert r["kept_fraction"] == 0.25 and r["diff_mean"] == pytest.approx(-1.0)
    table = (out / "results.md").read_text()
    assert (
        "| 10 | ratio_1 | 72.00 | 73.83 | 1.83 [-0.06, 3.73] | no clear effect | - | gans/k10 | 55.5 | 60.0 | 500 | 3 |"
        in table
    )
    assert "| 10 | filter_k | 70.00 | 69.00 | -1.00 [-, -] | n < 2 | 25% |" in table
    assert len((out / "results.csv").read_text().splitlines()) == 1 + 15  # one row per run
    assert (out / "results.png").stat().st_size > 1000


def test_a_stage_runs_its_command_and_clears_stale_checkpoints_first(tmp_path: Path) -> None:
    stopped, finished = tmp_path / "runs" / "a", tmp_path / "runs" / "b"
    for run in (stopped, finished):
        (run / "checkpoints").mkdir(parents=True)
        (run / "checkpoints" / "best.ckpt").write_text("stale")
    write_metrics({"test/acc": 0.5}, finished)
    touch = [sys.executable, "-c", f"open({str(stopped / 'ran')!r}, 'w').close()"]
    run_stage(Stage("touch", touch, [stopped, finished]), tmp_path)
    assert (stopped / "ran").is_file() and not (stopped / "checkpoints").exists()
    assert (finished / "checkpoints" / "best.ckpt").is_file()
    assert json.loads((tmp_path / "timings.json").read_text())["touch"]["runs"] == 2
    failing = Stage("fail", [sys.executable, "-c", "raise SystemExit(3)"], [stopped])
    with pytest.raises(StageFailed, match=r"stage fail failed \(exit 3\); see .*fail.log"):
        run_stage(failing, tmp_path)


def test_a_folder_refuses_other_budgets_but_takes_more_cells(tmp_path: Path, capsys) -> None:
    plan = cli.plan_from(cli.parser().parse_args(["--clf-epochs", "15"]))
    (tmp_path / "plan.json").write_text(json.dumps(plan.to_dict()))
    more = ["--k", "10", "25", "--seeds", "1", "2", "3", "4", "--out", str(tmp_path), "--dry-run"]
    assert cli.main([*more, "--clf-epochs", "15"]) == 0
    assert cli.main([*more, "--clf-epochs", "30"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "other budgets (clf_epochs 15 -> 30)" in err[0]
