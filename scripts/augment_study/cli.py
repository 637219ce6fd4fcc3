"""Command line of scripts/augment_study: options, stages, summary."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from augment_study.collect import read_cells, read_gans
from augment_study.plan import FULL, REDUCED, Plan, available_levers, budget_changes, parse_k
from augment_study.plot import plot_gain
from augment_study.runner import StageFailed, run_stage
from augment_study.stages import all_stages
from augment_study.tables import write_results

DEFAULT_OUT = {"reduced": Path("logs/augment/study"), "full": Path("logs/augment/study_full")}


def k_value(text: str) -> str:
    try:
        return parse_k(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def preset_text(plan: Plan) -> str:
    fields = [f.name for f in dataclasses.fields(Plan) if not f.name.endswith("extra")]
    return ", ".join(f"{name}={getattr(plan, name)}" for name in fields)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="augment_study",
        description="GAN data augmentation study (docs/augment_study.md). Without --full: the "
        f"reduced study ({preset_text(REDUCED)}).",
    )
    p.add_argument("--full", action="store_true", help="the full study's preset (hours)")
    p.add_argument("--k", nargs="+", type=k_value, help="real images per class: numbers or 'all'")
    p.add_argument("--seeds", nargs="+", type=int)
    p.add_argument(
        "--levers",
        nargs="+",
        choices=available_levers(),
        help="arms besides 'real' (conf/augment_lever/)",
    )
    p.add_argument("--gan-steps", type=int, help="GAN iteration cap")
    p.add_argument("--gan-eval-every", type=int, help="GAN iterations between validation FIDs")
    p.add_argument("--clf-epochs", type=int, help="classifier epochs (best val/acc tested)")
    p.add_argument("--min-epoch-size", type=int, help="classifier real draws per epoch, at least")
    p.add_argument("--score-samples", type=int, help="samples for each GAN's test FID")
    p.add_argument("--cas-train", type=int, help="generated training images of CAS")
    p.add_argument("--cas-epochs", type=int, help="epochs of CAS")
    p.add_argument("--gan-extra", nargs="*", help="extra Hydra overrides of the GAN runs")
    p.add_argument("--clf-extra", nargs="*", help="extra Hydra overrides of the classifier runs")
    p.add_argument(
        "--out",
        type=Path,
        help=f"study folder ({DEFAULT_OUT['reduced']}; with --full {DEFAULT_OUT['full']})",
    )
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    p.add_argument("--summary-only", action="store_true", help="only write the tables and plot")
    return p


def plan_from(args: argparse.Namespace) -> Plan:
    """The preset, with every option the user gave on top."""
    base = FULL if args.full else REDUCED
    given = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(Plan)
        if getattr(args, f.name, None) is not None
    }
    return dataclasses.replace(base, **given)


def summarize(out: Path, plan: dict) -> None:
    cells = read_cells(out)
    rows = write_results(out, cells, read_gans(out, cells), plan)
    figure = plot_gain(rows, out / "results.png")
    print((out / "results.md").read_text(), flush=True)
    print(
        f"{len(cells)} runs, {len(rows)} rows: {out / 'results.md'}, results.csv, results.json"
        + (f", {figure.name}" if figure else ""),
        flush=True,
    )


def recorded_plan(out: Path, plan: Plan, args: argparse.Namespace) -> dict | None:
    """The plan the tables describe: plan.json of the folder for --summary-only, else this plan,
    recorded (None, with a message, when the folder holds runs made with other budgets)."""
    plan_file = out / "plan.json"
    previous = json.loads(plan_file.read_text()) if plan_file.is_file() else None
    if args.summary_only:
        return previous or plan.to_dict()
    changes = budget_changes(previous or {}, plan.to_dict())
    if changes:
        print(
            f"augment_study: error: {out} holds runs made with other budgets "
            f"({'; '.join(changes)}): pass the same budgets to extend it, or another --out",
            file=sys.stderr,
        )
        return None
    if not args.dry_run:
        plan_file.write_text(json.dumps(plan.to_dict(), indent=2) + "\n")
    return plan.to_dict()


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    plan = plan_from(args)
    out = (args.out or DEFAULT_OUT["full" if args.full else "reduced"]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    recorded = recorded_plan(out, plan, args)
    if recorded is None:
        return 2
    os.environ.setdefault("OMP_NUM_THREADS", str(min(4, os.cpu_count() or 1)))
    failed = None
    if not args.summary_only:
        try:
            for stage in all_stages(plan, out):
                run_stage(stage, out, args.dry_run)
        except StageFailed as err:
            failed = err
    summarize(out, recorded)
    if failed is not None:
        print(f"augment_study: error: {failed}", file=sys.stderr)
        return 1
    return 0
