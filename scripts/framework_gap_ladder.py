"""Where the classifier's framework cost is not: the plain loop moved one step towards cnngan at a
time, each variant timed against cnngan's fit in interleaved blocks (as `make bench`'s comparison
(a)), the variants in turn within each round. A variant whose ratio rises to about 1 holds the
gap; one whose ratio stays at the plain loop's does not.

    python scripts/framework_gap_ladder.py                    # all variants, 8 rounds, 2 threads
    python scripts/framework_gap_ladder.py --variants plain closure --rounds 12

Variants (each otherwise the plain loop of scripts/bench/plain.py, same config and settings):
  plain    the plain loop itself
  closure  the optimizer stepped with a closure that runs forward, zero_grad and backward, as
           Lightning's automatic optimization does
  loader   its batches from cnngan's own training DataLoader (sampler, `__getitems__`, collate)
  module   cnngan's ImageClassifier (its forward, loss and training scores) in the plain loop
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import hydra
import torch
import torch.nn.functional as F
from omegaconf import DictConfig

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench.batches import make_batches  # noqa: E402
from bench.cli import _quiet  # noqa: E402
from bench.contenders import SEED, TASKS, compose  # noqa: E402
from bench.interleave import measure_pair  # noqa: E402
from bench.plain import PlainRun, _setup, plain_classifier  # noqa: E402
from bench.stats import log_ratio_interval  # noqa: E402

from cnngan.core.device import resolve_device  # noqa: E402

VARIANTS = ("plain", "closure", "loader", "module")


def variant(kind: str) -> Callable[[DictConfig, int], PlainRun]:
    """A builder of the plain classifier loop changed as `kind` says (module docstring). The
    plain and loader rungs are the benchmark's own plain loop (`bench.plain.plain_classifier`)."""
    if kind in ("plain", "loader"):
        data = "loader" if kind == "loader" else "own"
        return lambda cfg, total_steps: plain_classifier(cfg, total_steps, data)

    def build(cfg: DictConfig, total_steps: int) -> PlainRun:
        batches = make_batches(cfg.data, resolve_device("auto"), "own")
        device, nets = _setup(cfg, "own")
        if kind == "module":
            torch.manual_seed(SEED)  # as `_setup` seeds: the module's net starts from its weights
            module = hydra.utils.instantiate(cfg.model).to(device).train()
            module.setup("fit")
            nets = {"net": module.net}

            def forward(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
                loss, logits, target = module._shared_step((x, y))
                module.train_scores.update(logits, target, loss)
                return loss

            params = module.parameters()
        else:
            smoothing = float(cfg.model.get("label_smoothing", 0.0))

            def forward(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
                return F.cross_entropy(nets["net"](x), y, label_smoothing=smoothing)

            params = nets["net"].parameters()
        opt = hydra.utils.instantiate(cfg.model.optimizer)(params=params)
        sched = hydra.utils.instantiate(cfg.model.scheduler)(opt, total_steps=total_steps)

        def step() -> None:
            x, y = batches.next()

            def closure() -> torch.Tensor:
                loss = forward(x, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                return loss

            if kind == "closure":
                opt.step(closure)
            else:
                closure()
                opt.step()
            sched.step()

        return PlainRun(step, nets, device)

    return build


def run_ladder(
    args: argparse.Namespace, cnngan_cfg: DictConfig, plain_cfg: DictConfig
) -> dict[str, list[float]]:
    """cnngan/variant ratios per variant, the variants in turn (reversed in odd rounds)."""
    ratios: dict[str, list[float]] = {k: [] for k in args.variants}
    for r in range(args.rounds):
        for kind in args.variants if r % 2 == 0 else args.variants[::-1]:
            (cw, _), (pw, _), n = measure_pair(
                "classifier", cnngan_cfg, plain_cfg, args.warmup, args.steps, args.block,
                plain_first=bool(r % 2), plain=variant(kind),
            )  # fmt: skip
            ratios[kind].append(pw / cw)
            print(f"round {r} {kind:8s} cnngan {cw / n * 1e3:6.2f} ms/step, "
                  f"variant {pw / n * 1e3:6.2f} ms/step, cnngan/variant {pw / cw:.3f}", flush=True)  # fmt: skip
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--block", type=int, default=25)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, help="a JSON file for the ratios")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    _quiet()
    with tempfile.TemporaryDirectory(prefix="cnngan-ladder-") as scratch:
        contenders = TASKS["classifier"].contenders
        cnngan_cfg = compose("classifier", contenders["cnngan"].overrides, Path(scratch))
        plain_cfg = compose("classifier", contenders["plain"].overrides, Path(scratch))
        ratios = run_ladder(args, cnngan_cfg, plain_cfg)
    summary = {k: log_ratio_interval(v) | {"per_round": v} for k, v in ratios.items()}
    for kind, s in summary.items():
        print(f"{kind:8s} cnngan/variant {s['gmean']:.3f} [{s['t_low']:.3f}, {s['t_high']:.3f}] "
              f"(sd of log ratios {s['log_sd']:.3f}, {len(s['per_round'])} rounds)")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps({"threads": torch.get_num_threads(), **summary}, indent=1))


if __name__ == "__main__":
    main()
