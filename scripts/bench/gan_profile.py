"""Where the milliseconds of a GAN iteration go: torch.profiler over cnngan's and the plain loop's
timed window, the top ops of each, and named ranges for what might be removed.

Ranges come from outside the GAN module (its code is not touched): every Lightning hook and loop
action (a Lightning profiler that opens a `record_function` per action, e.g.
`[LightningModule]GAN.on_before_optimizer_step`, where the gradient norms are computed) and every
forward of G and D (forward hooks, labelled with grad or no_grad: D's step runs G without
gradients, the G step runs it again with them).
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from lightning.pytorch.profilers import Profiler
from omegaconf import DictConfig
from torch import nn
from torch.autograd.profiler import record_function

from bench.cnngan_side import cnngan_fit
from bench.plain import PLAIN, run_plain
from bench.timing import clock, elapsed

RANGE_PREFIX = "bench: "


class RangeProfiler(Profiler):
    """A Lightning profiler that turns every action into a torch.profiler range."""

    def __init__(self) -> None:
        super().__init__()
        self.open: dict[str, list[Any]] = {}

    def start(self, action_name: str) -> None:
        handle = record_function(RANGE_PREFIX + action_name)
        handle.__enter__()
        self.open.setdefault(action_name, []).append(handle)

    def stop(self, action_name: str) -> None:
        handles = self.open.get(action_name)
        if handles:
            handles.pop().__exit__(None, None, None)

    def summary(self) -> str:
        return ""


def label_forwards(nets: dict[str, nn.Module]) -> list[Any]:
    """Forward hooks that wrap each net's forward in a range named after the net and grad mode."""
    handles = []
    for name, net in nets.items():
        stack: list[Any] = []

        def pre(_module: nn.Module, _args: Any, name: str = name, stack: list = stack) -> None:
            mode = "grad" if torch.is_grad_enabled() else "no_grad"
            stack.append(record_function(f"{RANGE_PREFIX}{name}.forward ({mode})").__enter__())

        def post(_module: nn.Module, _args: Any, _out: Any, stack: list = stack) -> None:
            stack.pop().__exit__(None, None, None)

        handles += [net.register_forward_pre_hook(pre), net.register_forward_hook(post)]
    return handles


class WindowProfile:
    """A torch.profiler session driven by `window("start")` / `window("stop")`."""

    def __init__(self) -> None:
        activities = [torch.profiler.ProfilerActivity.CPU]
        if torch.cuda.is_available():
            activities.append(torch.profiler.ProfilerActivity.CUDA)
        self.prof = torch.profiler.profile(activities=activities)
        self.start, self.seconds = (0.0, 0.0), (0.0, 0.0)

    def window(self, edge: str) -> None:
        if edge == "start":
            self.prof.__enter__()
            self.start = clock()
        else:
            self.seconds = elapsed(self.start)
            self.prof.__exit__(None, None, None)


class LabelForwards(L.Callback):
    """Labels the model's G and D forwards once fitting starts (see `label_forwards`)."""

    def __init__(self) -> None:
        self.handles: list[Any] = []

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        nets = {k: getattr(pl_module, k) for k in ("generator", "discriminator")}
        self.handles = label_forwards(nets)

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def summarize_events(prof: Any, steps: int, top: int) -> dict[str, Any]:
    """Top ops by self CPU time and every named range, in ms per iteration."""
    events = prof.key_averages()
    total_self = sum(e.self_cpu_time_total for e in events) / 1000 / steps
    ops = sorted(
        (e for e in events if not e.key.startswith(RANGE_PREFIX)),
        key=lambda e: e.self_cpu_time_total,
        reverse=True,
    )
    ranges = sorted(
        (e for e in events if e.key.startswith(RANGE_PREFIX)),
        key=lambda e: e.cpu_time_total,
        reverse=True,
    )
    return {
        "self_cpu_ms_per_iteration": total_self,
        "ops": [
            {
                "name": e.key,
                "calls_per_iteration": e.count / steps,
                "self_cpu_ms_per_iteration": e.self_cpu_time_total / 1000 / steps,
                "share": e.self_cpu_time_total / 1000 / steps / total_self if total_self else 0.0,
            }
            for e in ops[:top]
        ],
        "ranges": [
            {
                "name": e.key.removeprefix(RANGE_PREFIX),
                "calls_per_iteration": e.count / steps,
                "cpu_ms_per_iteration": e.cpu_time_total / 1000 / steps,
            }
            for e in ranges
        ],
    }


def profile_cnngan(cfg: DictConfig, warmup: int, steps: int, top: int) -> dict[str, Any]:
    """Profile cnngan's timed window (Lightning actions and G/D forwards as named ranges)."""
    session, labels = WindowProfile(), LabelForwards()
    seconds, _ = cnngan_fit(
        cfg, warmup, steps, session.window, profiler=RangeProfiler(), callbacks=[labels]
    )
    labels.remove()
    out = summarize_events(session.prof, steps, top)
    out["wall_ms_per_iteration"] = seconds[0] * 1000 / steps
    return out


def profile_plain(cfg: DictConfig, warmup: int, steps: int, top: int) -> dict[str, Any]:
    """Profile the plain loop's timed window (G/D forwards as named ranges)."""
    run = PLAIN["gan"](cfg, warmup + steps)
    for _ in range(warmup):
        run.step()
    hooks = label_forwards({k: run.nets[k] for k in ("generator", "discriminator")})
    session = WindowProfile()
    session.window("start")
    for _ in range(steps):
        run.step()
    session.window("stop")
    for handle in hooks:
        handle.remove()
    out = summarize_events(session.prof, steps, top)
    out["wall_ms_per_iteration"] = session.seconds[0] * 1000 / steps
    return out


def removable(cnngan: dict[str, Any]) -> list[dict[str, Any]]:
    """Candidates for removal, with their measured cost per iteration."""
    ranges = {r["name"]: r for r in cnngan["ranges"]}
    wall = cnngan["wall_ms_per_iteration"]
    found = []
    for name, what in (
        (
            "[LightningModule]GAN.on_before_optimizer_step",
            "gradient norms of G and D at every optimizer step (logged every log_every_n_steps)",
        ),
        (
            "generator.forward (no_grad)",
            "G's forward for D's fakes; the G step runs G again on new noise (n_critic + 1 "
            "forwards per iteration): reusing one fake saves it",
        ),
    ):
        if name in ranges:
            ms = ranges[name]["cpu_ms_per_iteration"]
            found.append({"range": name, "what": what, "ms_per_iteration": ms, "share": ms / wall})
    return found


def profile_gan(cfg: DictConfig, warmup: int, steps: int, top: int = 15) -> dict[str, Any]:
    """The GAN profile written into results.json: cnngan, plain, and what might go."""
    run_plain("gan", cfg, 1, 1)  # warm the allocator and kernels for both sides
    cnngan = profile_cnngan(cfg, warmup, steps, top)
    plain = profile_plain(cfg, warmup, steps, top)
    return {
        "steps": steps,
        "warmup": warmup,
        "cnngan": cnngan,
        "plain": plain,
        "removable": removable(cnngan),
        "note": "profiled runs are slower than timed ones (profiler overhead per op); "
        "compare shares, not absolute times",
    }
