"""The hand-written PyTorch loops: what a user writes without a framework, same recipe as cnngan.

Every setting comes from the run config (nets, optimizer with its implementation switches,
scheduler, label smoothing, augmentation, memory layout, EMA), so a plain contender at cnngan's
config does exactly cnngan's work (tests/scripts/test_benchmark.py checks equal weights). What
the plain loop leaves out is the framework's bookkeeping: metrics, logging, gradient norms, hooks.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import hydra
import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import nn

from bench.batches import make_batches
from bench.contenders import SEED
from bench.timing import Seconds, timed_loop
from cnngan.core.device import resolve_device


@dataclass
class PlainRun:
    step: Callable[[], None]
    nets: dict[str, nn.Module]  # the trained nets, for the equal-work test
    device: torch.device


def _setup(cfg: DictConfig, data: str) -> tuple[torch.device, dict[str, nn.Module]]:
    """Seed, then build the nets in the config's order (as instantiating the model does). The
    data comes first: a dataset source may draw its test split from the global RNG. With
    cnngan's DataLoader as the data source, seed as cnngan does (Lightning's seed_everything,
    whose global seed the data module may take as its shuffle seed)."""
    if data == "loader":
        import lightning as L

        L.seed_everything(SEED, verbose=False)
    else:
        torch.manual_seed(SEED)
    device = resolve_device("auto")
    layout = torch.channels_last if cfg.data.channels_last else torch.contiguous_format
    names = [k for k in cfg.model if k in ("net", "generator", "discriminator")]
    nets = {k: hydra.utils.instantiate(cfg.model[k]).to(device).train() for k in names}
    for net in nets.values():
        net.to(memory_format=layout)
    return device, nets


def plain_classifier(cfg: DictConfig, total_steps: int, data: str = "own") -> PlainRun:
    """Forward, cross-entropy, backward, optimizer step, scheduler step."""
    batches = make_batches(cfg.data, resolve_device("auto"), data)
    device, nets = _setup(cfg, data)
    net = nets["net"]
    opt = hydra.utils.instantiate(cfg.model.optimizer)(params=net.parameters())
    sched = None
    if cfg.model.get("scheduler"):
        sched = hydra.utils.instantiate(cfg.model.scheduler)(opt, total_steps=total_steps)
    smoothing = float(cfg.model.get("label_smoothing", 0.0))

    def step() -> None:
        x, y = batches.next()
        loss = F.cross_entropy(net(x), y, label_smoothing=smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()

    return PlainRun(step, nets, device)


def _check_gan_recipe(m: DictConfig) -> None:
    if m.loss != "non_saturating" or m.n_critic != 1 or m.r1_gamma or m.gp_weight or m.diffaugment:
        raise ValueError("the plain GAN loop implements only the recipe of gan_dcgan")
    if m.conditional or m.get("g_scheduler") or m.get("d_scheduler") or m.gradient_clip_val:
        raise ValueError("the plain GAN loop is unconditional, without schedulers or clipping")


def plain_gan(cfg: DictConfig, total_steps: int, data: str = "own") -> PlainRun:
    """One D step (non-saturating loss on real and detached fake), one G step with D frozen,
    then the EMA of G: the gan_dcgan recipe."""
    m = cfg.model
    _check_gan_recipe(m)
    batches = make_batches(cfg.data, resolve_device("auto"), data)
    device, nets = _setup(cfg, data)
    gen, disc = nets["generator"], nets["discriminator"]
    ema = copy.deepcopy(gen).requires_grad_(False) if m.ema_decay is not None else None
    if ema is not None:
        nets["generator_ema"] = ema
    g_opt = hydra.utils.instantiate(m.g_optimizer)(params=gen.parameters())
    d_opt = hydra.utils.instantiate(m.d_optimizer)(params=disc.parameters())
    latent, iteration = int(m.latent_dim), [0]

    def step() -> None:
        real, _ = batches.next()
        n = real.shape[0]
        with torch.no_grad():
            fake = gen(torch.randn(n, latent, device=device))
        d_loss = F.softplus(-disc(real)).mean() + F.softplus(disc(fake)).mean()
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        disc.requires_grad_(False)
        g_loss = F.softplus(-disc(gen(torch.randn(n, latent, device=device)))).mean()
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        disc.requires_grad_(True)
        iteration[0] += 1
        if ema is not None:
            update_ema(ema, gen, m.ema_decay, copy_only=iteration[0] <= m.ema_start)

    return PlainRun(step, nets, device)


@torch.no_grad()
def update_ema(ema: nn.Module, net: nn.Module, decay: float, copy_only: bool) -> None:
    """ema <- net (before the EMA starts) or ema <- lerp(ema, net, 1 - decay); buffers copied."""
    ema_p, p = list(ema.parameters()), list(net.parameters())
    if copy_only:
        torch._foreach_copy_(ema_p, p)
    else:
        torch._foreach_lerp_(ema_p, p, 1.0 - decay)
    for b_ema, b in zip(ema.buffers(), net.buffers(), strict=True):
        b_ema.copy_(b)


PLAIN = {"classifier": plain_classifier, "gan": plain_gan}


def run_plain(
    task: str, cfg: DictConfig, warmup: int, steps: int, data: str = "own"
) -> tuple[Seconds, PlainRun]:
    """(wall, CPU) seconds of `steps` timed steps after `warmup` untimed ones, and the run;
    `data` as for `make_batches`."""
    run = PLAIN[task](cfg, warmup + steps, data)
    return timed_loop(run.step, warmup, steps, run.device), run
