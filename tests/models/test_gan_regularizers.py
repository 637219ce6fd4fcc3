"""R1, gradient penalty and DiffAugment on small inputs with known answers."""

import pytest
import torch
from torch import nn

from cnngan.models.gan.diffaugment import DiffAugment, rand_cutout, rand_translation
from cnngan.models.gan.regularizers import gradient_penalty, r1_penalty, regularized_d_loss


def linear_critic(weight: torch.Tensor) -> nn.Module:
    """D(x) = <w, x>: its input gradient is w everywhere."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(weight.numel(), 1, bias=False))
    net[1].weight.data.copy_(weight.flatten()[None])
    return net


def test_r1_of_a_linear_critic_is_its_squared_weight_norm() -> None:
    w = torch.tensor([3.0, 4.0, 0.0, 0.0]).view(1, 2, 2)
    critic = linear_critic(w)
    x = torch.randn(5, 1, 2, 2, requires_grad=True)
    penalty = r1_penalty(critic(x).squeeze(1), x)
    assert penalty.item() == pytest.approx(25.0)
    penalty.backward()  # differentiable w.r.t. D's weights: d||w||^2/dw = 2w
    assert torch.allclose(critic[1].weight.grad.flatten(), 2 * w.flatten())


def test_gradient_penalty_of_a_linear_critic() -> None:
    critic = linear_critic(torch.tensor([3.0, 4.0, 0.0, 0.0]))
    real, fake = torch.randn(6, 1, 2, 2), torch.randn(6, 1, 2, 2)
    gp = gradient_penalty(lambda x: critic(x).squeeze(1), real, fake)
    assert gp.item() == pytest.approx((5.0 - 1.0) ** 2)
    gp.backward()
    assert critic[1].weight.grad.abs().sum() > 0
    unit = linear_critic(torch.tensor([0.6, 0.8, 0.0, 0.0]))  # a 1-Lipschitz critic: no penalty
    assert float(gradient_penalty(lambda x: unit(x).squeeze(1), real, fake)) == pytest.approx(
        0.0, abs=1e-10
    )


def mean_gap(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    """A stand-in D loss with a known value: mean fake output minus mean real output."""
    return fake_out.mean() - real_out.mean()


def test_regularized_loss_prepares_the_real_input_for_r1_itself() -> None:
    """The caller passes real images as they come (no requires_grad): R1 of D(x) = <w, x> is
    ||w||^2 = 25, added as gamma / 2 * 25; the caller's tensor is left as it was."""
    critic = linear_critic(torch.tensor([3.0, 4.0, 0.0, 0.0]))
    real, fake = torch.randn(5, 1, 2, 2), torch.randn(5, 1, 2, 2)
    d = regularized_d_loss(
        critic=lambda x: critic(x).squeeze(1), real=real, fake=fake, loss=mean_gap, r1_gamma=2.0
    )
    base = float(mean_gap(critic(real).squeeze(1), critic(fake).squeeze(1)))
    assert float(d.logs["r1"]) == pytest.approx(25.0)
    assert float(d.total) == pytest.approx(base + 0.5 * 2.0 * 25.0, rel=1e-5)
    assert float(d.logs["d_loss"]) == pytest.approx(base, rel=1e-5) and "gp" not in d.logs
    assert not real.requires_grad and d.real_out.shape == d.fake_out.shape == (5,)
    d.total.backward()  # R1 reaches D's weights: d(gamma / 2 ||w||^2)/dw = gamma * w
    expected = (fake.mean(0) - real.mean(0)).flatten() + 2.0 * torch.tensor([3.0, 4.0, 0, 0])
    assert torch.allclose(critic[1].weight.grad.flatten(), expected, atol=1e-5)


def test_regularized_loss_adds_each_penalty_only_when_on() -> None:
    critic = linear_critic(torch.tensor([3.0, 4.0, 0.0, 0.0]))
    real, fake = torch.randn(6, 1, 2, 2), torch.randn(6, 1, 2, 2)
    kwargs = {"critic": lambda x: critic(x).squeeze(1), "real": real, "fake": fake}
    plain = regularized_d_loss(**kwargs, loss=mean_gap)
    assert set(plain.logs) == {"d_loss"} and torch.equal(plain.total, plain.logs["d_loss"])
    gp = regularized_d_loss(**kwargs, loss=mean_gap, gp_weight=10.0)
    assert set(gp.logs) == {"d_loss", "gp"} and float(gp.logs["gp"]) == pytest.approx(16.0)
    assert float(gp.total - plain.total) == pytest.approx(160.0, rel=1e-5)
    with pytest.raises(TypeError):
        regularized_d_loss(kwargs["critic"], real, fake, mean_gap)  # keywords only


def test_gradient_penalty_uses_points_between_real_and_fake() -> None:
    seen = []

    def critic(x: torch.Tensor) -> torch.Tensor:
        seen.append(x.detach())
        return (x**2).flatten(1).sum(1)

    real, fake = torch.zeros(64, 1, 1, 1), torch.ones(64, 1, 1, 1)
    gradient_penalty(critic, real, fake)
    mixed = seen[0].flatten()
    assert (mixed >= 0).all() and (mixed <= 1).all() and mixed.std() > 0.1


def test_diffaugment_empty_policy_is_identity() -> None:
    x = torch.randn(3, 1, 8, 8)
    assert not DiffAugment(None) and not DiffAugment("")
    assert DiffAugment(None)(x) is x


def test_diffaugment_rejects_unknown_policy() -> None:
    with pytest.raises(ValueError, match="unknown DiffAugment policy.*'flip'"):
        DiffAugment("color,flip")


def test_translation_shifts_with_zero_fill() -> None:
    x = torch.zeros(200, 1, 8, 8)
    x[:, :, 4, 4] = 1.0
    out = rand_translation(x, ratio=0.125, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape and torch.equal(
        out.sum(dim=(1, 2, 3)), torch.ones(200)
    )  # 1px shift keeps it
    rows, cols = out[:, 0].nonzero()[:, 1], out[:, 0].nonzero()[:, 2]
    assert set(rows.tolist()) == {3, 4, 5} and set(cols.tolist()) == {
        3,
        4,
        5,
    }  # every shift in [-1, 1]
    ones = rand_translation(torch.ones(200, 1, 8, 8), generator=torch.Generator().manual_seed(0))
    assert (ones == 0).any()  # what comes in from the border is zero


def test_cutout_zeroes_a_box_of_half_the_side() -> None:
    out = rand_cutout(
        torch.ones(100, 1, 8, 8), ratio=0.5, generator=torch.Generator().manual_seed(0)
    )
    zeros = (out == 0).flatten(1).sum(1)
    assert zeros.max() == 16 and zeros.min() >= 4  # a 4x4 box, clipped at borders


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "color,translation,cutout"])
def test_diffaugment_is_differentiable_and_random_per_image(policy: str) -> None:
    x = torch.rand(16, 3, 8, 8, requires_grad=True)
    out = DiffAugment(policy)(x)
    assert out.shape == x.shape
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    same = torch.rand(1, 3, 8, 8).expand(16, 3, 8, 8)
    augmented = DiffAugment(policy)(same)
    assert not torch.allclose(augmented[:1].expand_as(augmented), augmented)  # one draw per image
