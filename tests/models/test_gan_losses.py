"""GAN losses against hand-computed values, and the sign of their gradients."""

import math

import pytest
import torch

from cnngan.models.gan.losses import LOSSES, get_loss

REAL = [0.0, 2.0]  # discriminator outputs on real images
FAKE = [0.0, -1.0]  # ... and on generated images


def sig(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


# (discriminator loss, generator loss) written out from the papers' formulas
BCE_D = -mean(math.log(sig(r)) for r in REAL) - mean(math.log(1 - sig(f)) for f in FAKE)
EXPECTED = {
    "minimax": (BCE_D, mean(math.log(1 - sig(f)) for f in FAKE)),
    "non_saturating": (BCE_D, -mean(math.log(sig(f)) for f in FAKE)),
    "hinge": (mean(max(0, 1 - r) for r in REAL) + mean(max(0, 1 + f) for f in FAKE), -mean(FAKE)),
    "wasserstein": (mean(FAKE) - mean(REAL), -mean(FAKE)),
    "lsgan": (
        0.5 * (mean((r - 1) ** 2 for r in REAL) + mean(f**2 for f in FAKE)),
        0.5 * mean((f - 1) ** 2 for f in FAKE),
    ),
}


def test_every_loss_is_tested() -> None:
    assert set(EXPECTED) == set(LOSSES)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_loss_values(name: str) -> None:
    loss = get_loss(name)
    d_expected, g_expected = EXPECTED[name]
    assert float(loss.discriminator(torch.tensor(REAL), torch.tensor(FAKE))) == pytest.approx(
        d_expected, abs=1e-6
    )
    assert float(loss.generator(torch.tensor(FAKE))) == pytest.approx(g_expected, abs=1e-6)


def test_hand_values_are_what_we_think() -> None:
    # a few of the numbers above, by hand: guards the formulas in EXPECTED themselves
    assert EXPECTED["hinge"] == (1.0, 0.5)
    assert EXPECTED["wasserstein"] == (-1.5, 0.5)
    assert EXPECTED["lsgan"] == (0.75, 1.25)
    assert EXPECTED["minimax"][0] == pytest.approx(0.913243, abs=1e-6)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_gradient_signs(name: str) -> None:
    """D is pushed to score reals up and fakes down; G is pushed to score its fakes up."""
    loss = get_loss(name)
    real = torch.tensor([0.0, 0.5], requires_grad=True)  # inside every margin, not saturated
    fake = torch.tensor([0.25, 0.5], requires_grad=True)  # (LSGAN pulls fakes to 0, from above)
    loss.discriminator(real, fake).backward()
    assert (real.grad < 0).all() and (fake.grad > 0).all()
    fake_g = torch.tensor([0.0, -0.5], requires_grad=True)  # (LSGAN pulls them to 1, from below)
    loss.generator(fake_g).backward()
    assert (fake_g.grad < 0).all()


def test_minimax_saturates_where_non_saturating_does_not() -> None:
    """When D confidently rejects a fake (logit -10), log(1 - D(G(z))) gives G almost no gradient;
    -log D(G(z)) gives it a strong one (Goodfellow et al. 2014, section 3)."""
    grads = {}
    for name in ("minimax", "non_saturating"):
        fake = torch.tensor([-10.0], requires_grad=True)
        get_loss(name).generator(fake).backward()
        grads[name] = float(fake.grad.abs())
    assert grads["minimax"] < 1e-4 and grads["non_saturating"] > 0.99


def test_losses_are_stable_for_extreme_logits() -> None:
    for name in ("minimax", "non_saturating"):
        loss = get_loss(name)
        big = torch.tensor([1e4, -1e4])
        assert torch.isfinite(loss.discriminator(big, -big)) and torch.isfinite(loss.generator(big))


def test_scores_for_logging() -> None:
    logits = torch.tensor([0.0])
    assert float(get_loss("non_saturating").score(logits)) == 0.5  # D(x) as a probability
    assert float(get_loss("wasserstein").score(torch.tensor([3.0]))) == 3.0  # raw critic value


def test_unknown_loss_is_named() -> None:
    with pytest.raises(ValueError, match="unknown GAN loss 'bce'.*hinge"):
        get_loss("bce")
