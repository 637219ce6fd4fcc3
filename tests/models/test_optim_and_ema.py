"""The small helpers of the models: scheduler building, EMA arithmetic, iteration counting."""

from __future__ import annotations

import functools
import math

import pytest
import torch
from torch import nn

from cnngan.models.gan import ema
from cnngan.models.optimization import build_scheduler, gradient_norm, step_schedulers


def _sgd() -> torch.optim.Optimizer:
    return torch.optim.SGD([nn.Parameter(torch.ones(3))], lr=1.0)


def test_build_scheduler_fills_in_the_budget_only_when_left_open() -> None:
    cosine = functools.partial(torch.optim.lr_scheduler.CosineAnnealingLR)
    assert build_scheduler(cosine, _sgd(), 17).T_max == 17
    fixed = functools.partial(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=5)
    assert build_scheduler(fixed, _sgd(), 17).T_max == 5
    one_cycle = functools.partial(torch.optim.lr_scheduler.OneCycleLR, max_lr=0.1)
    assert build_scheduler(one_cycle, _sgd(), 40).total_steps == 40


def test_one_cycle_with_a_one_step_warmup_runs_its_whole_schedule() -> None:
    """0.25 x 4 steps: torch's OneCycleLR alone divides by zero at the first step."""
    one_cycle = functools.partial(
        torch.optim.lr_scheduler.OneCycleLR, max_lr=0.1, pct_start=0.25, div_factor=10.0
    )
    optimizer = _sgd()
    scheduler = build_scheduler(one_cycle, optimizer, 4)
    rates = [optimizer.param_groups[0]["lr"]]
    for _ in range(3):
        optimizer.step()
        scheduler.step()
        rates.append(optimizer.param_groups[0]["lr"])
    assert rates[0] == pytest.approx(0.01)
    # the warm-up ends at step 0 + 1e-6: from there the cosine decay over the 3 steps left
    assert rates[1] == pytest.approx(0.1 * (1 + math.cos(math.pi / 3)) / 2, rel=1e-4)
    assert rates[1] > rates[2] > rates[3]


def test_step_schedulers_takes_none_one_or_a_list() -> None:
    step_schedulers(None)
    a = torch.optim.lr_scheduler.StepLR(_sgd(), step_size=1)
    b = torch.optim.lr_scheduler.StepLR(_sgd(), step_size=1)
    step_schedulers(a)
    step_schedulers([a, b])
    assert (a.last_epoch, b.last_epoch) == (2, 1)


def test_gradient_norm() -> None:
    opt = _sgd()
    assert gradient_norm(opt) is None
    opt.param_groups[0]["params"][0].grad = torch.tensor([3.0, 4.0, 0.0])
    assert float(gradient_norm(opt)) == pytest.approx(5.0)


def test_ema_update_is_exact_and_copies_buffers() -> None:
    net = nn.BatchNorm1d(2)
    copy = ema.ema_copy(net)
    assert all(not p.requires_grad for p in copy.parameters())
    with torch.no_grad():
        net.weight.fill_(2.0)
        net.running_mean.fill_(7.0)
    ema.update_ema(copy, net, 0.75)  # 0.75 * 1 + 0.25 * 2
    assert torch.equal(copy.weight, torch.full((2,), 1.25))
    assert torch.equal(copy.running_mean, torch.full((2,), 7.0))
    ema.update_ema(copy, net, 0.0)
    assert torch.equal(copy.weight, net.weight)


def test_decay_is_zero_up_to_ema_start() -> None:
    assert [ema.decay_at(i, 0.9, start=2) for i in (1, 2, 3)] == [0.0, 0.0, 0.9]
    with pytest.raises(ValueError, match=r"ema_decay=1.0 must be in \[0, 1\)"):
        ema.check_decay(1.0)
