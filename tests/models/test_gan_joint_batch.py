"""`model.d_joint_batch`: D sees the real and the fake batch as one batch in each D step."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from cnngan.models.gan.losses import get_loss
from cnngan.models.gan.regularizers import regularized_d_loss
from cnngan.nets import DCGANDiscriminator
from tests.models.test_gan import build

LABELS = torch.arange(8) % 10


def conditional_d(norm: str) -> DCGANDiscriminator:
    torch.manual_seed(0)
    return DCGANDiscriminator(image_shape=(1, 28, 28), width=8, norm=norm, conditional=True)


def d_loss_and_grads(d: DCGANDiscriminator, joint: bool, r1_gamma: float = 0.0):
    """One D loss (non-saturating, R1 optional) and D's gradients, separate or joint forward."""
    torch.manual_seed(1)
    real, fake = torch.rand(8, 1, 28, 28) * 2 - 1, torch.rand(8, 1, 28, 28) * 2 - 1
    both = torch.cat([LABELS, LABELS])
    out = regularized_d_loss(
        critic=lambda x: d(x, LABELS),
        real=real,
        fake=fake,
        loss=get_loss("non_saturating").discriminator,
        r1_gamma=r1_gamma,
        joint_critic=(lambda x: d(x, both)) if joint else None,
    )
    d.zero_grad()
    out.total.backward()
    return out, [p.grad.clone() for p in d.parameters()]


@pytest.mark.parametrize("r1_gamma", [0.0, 1.0])
def test_without_batch_norm_the_joint_forward_is_the_same_math(r1_gamma: float) -> None:
    """Per-sample D (no batch norm, projection head with labels): same outputs, loss, R1 and
    gradients as two forwards, to float rounding."""
    d = conditional_d("none")
    apart, apart_grads = d_loss_and_grads(d, joint=False, r1_gamma=r1_gamma)
    joint, joint_grads = d_loss_and_grads(d, joint=True, r1_gamma=r1_gamma)
    assert torch.allclose(apart.real_out, joint.real_out, atol=1e-5)
    assert torch.allclose(apart.fake_out, joint.fake_out, atol=1e-5)
    assert joint.total.item() == pytest.approx(apart.total.item(), rel=1e-5)
    assert set(joint.logs) == set(apart.logs)
    for a, b in zip(apart_grads, joint_grads, strict=True):
        assert torch.allclose(a, b, atol=1e-5)


def test_with_batch_norm_d_normalizes_over_the_mixed_batch() -> None:
    """What changes with batch norm, and why the GAN refuses the switch with such a D: its steps
    would see mixed-batch statistics and G's step fake-only ones (training collapsed)."""
    d = conditional_d("batch")
    apart, _ = d_loss_and_grads(d, joint=False)
    joint, _ = d_loss_and_grads(d, joint=True)
    assert joint.real_out.shape == joint.fake_out.shape == (8,)
    assert not torch.allclose(apart.real_out, joint.real_out, atol=1e-3)


class RealBatch(L.Callback):
    """Keeps the real images of the last training batch."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.images = batch[0].detach().clone()


@pytest.mark.parametrize("joint", [False, True])
def test_a_fit_calls_d_once_per_d_step_on_both_batches(make_cfg, joint: bool) -> None:
    """A real conditional fit (2 D steps + 1 G step): joint D steps each make one D call on twice
    the batch, reals first, with the labels of both halves; the G step still scores fakes only."""
    trainer, model, dm = build(
        make_cfg,
        [
            "model.conditional=true",
            "model.n_critic=2",
            f"model.d_joint_batch={joint}",
            "model.discriminator.norm=layer",
            "trainer.max_steps=1",
        ],
        [real := RealBatch()],
    )
    calls: list[tuple[torch.Tensor, torch.Tensor]] = []
    model.discriminator.register_forward_hook(
        lambda m, args, out: calls.append((args[0].detach(), args[1].detach()))
    )
    trainer.fit(model, datamodule=dm)
    n = dm.batch_size
    sizes = [images.shape[0] for images, _ in calls]
    assert sizes == ([2 * n, 2 * n, n] if joint else [n, n, n, n, n])
    if joint:
        images, labels = calls[0]
        assert torch.equal(images[:n], real.images) and not torch.equal(images[n:], real.images)
        assert torch.equal(labels[:n], labels[n:])
