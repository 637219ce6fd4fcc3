"""GAN networks: the seed's MLP exactly, DCGAN sized from the image shape, conditioning, SN."""

import pytest
import torch
from torch import nn

from cnngan.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from cnngan.nets.conditional_norm import ClassConditionalBatchNorm2d
from cnngan.nets.dcgan import dcgan_layout

SHAPES = [(1, 28, 28), (3, 32, 32), (1, 8, 8)]


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_seed_mlp_layers_exactly() -> None:
    g = MLPGenerator(100, (1, 28, 28))
    linears = [m for m in g.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (100, 128),
        (128, 128),
        (128, 784),
    ]
    assert sum(isinstance(m, nn.LeakyReLU) for m in g.modules()) == 2
    assert isinstance(list(g.modules())[-1], nn.Tanh)
    d = MLPDiscriminator((1, 28, 28))
    linears = [m for m in d.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(784, 128), (128, 128), (128, 1)]
    assert sum(isinstance(m, nn.LeakyReLU) for m in d.modules()) == 2
    assert not any(isinstance(m, nn.Sigmoid | nn.BatchNorm1d) for m in d.modules())  # raw logit


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", ["mlp", "dcgan"])
def test_shapes_and_range(shape: tuple[int, int, int], kind: str) -> None:
    g = MLPGenerator(16, shape) if kind == "mlp" else DCGANGenerator(16, shape, width=8)
    d = MLPDiscriminator(shape) if kind == "mlp" else DCGANDiscriminator(shape, width=8)
    x = g(torch.randn(5, 16))
    assert x.shape == (5, *shape)
    assert x.min() >= -1 and x.max() <= 1
    assert d(x).shape == (5,)


def test_dcgan_layout_and_sizes() -> None:
    assert dcgan_layout((1, 28, 28)) == (7, 7, 2)
    assert dcgan_layout((3, 32, 32)) == (4, 4, 3)
    assert dcgan_layout((1, 8, 8)) == (4, 4, 1)
    # the classic 28x28 pair (REFERENCES: G 766k with a bias in the projection, D 139k)
    assert n_params(DCGANGenerator(100, (1, 28, 28))) == 759_681
    assert n_params(DCGANDiscriminator((1, 28, 28))) == 138_561
    strided = [m for m in DCGANDiscriminator((3, 32, 32)).modules() if isinstance(m, nn.Conv2d)]
    assert [m.out_channels for m in strided] == [64, 128, 256]


@pytest.mark.parametrize("shape", [(1, 7, 7), (1, 6, 6), (3, 9, 9)])
def test_dcgan_rejects_shapes_it_cannot_take(shape: tuple[int, int, int]) -> None:
    with pytest.raises(
        ValueError, match=rf"DCGAN cannot take {shape[1]}x{shape[2]} images.*gan_mlp"
    ):
        DCGANGenerator(16, shape)


@pytest.mark.parametrize("kind", ["mlp", "dcgan"])
def test_conditional_generator_output_depends_on_the_label(kind: str) -> None:
    torch.manual_seed(0)
    shape = (1, 28, 28)
    g = (
        MLPGenerator(16, shape, conditional=True)
        if kind == "mlp"
        else DCGANGenerator(16, shape, width=8, conditional=True)
    )
    g.eval()
    z = torch.randn(1, 16).expand(10, 16)
    out = g(z, torch.arange(10))
    assert not torch.allclose(out[0], out[1], atol=1e-4)
    assert (out.flatten(1) - out[:1].flatten(1)).abs().amax(1)[
        1:
    ].min() > 1e-4  # every class differs
    assert torch.equal(
        g(z[:2], torch.tensor([3, 3]))[0], g(z[:2], torch.tensor([3, 3]))[1]
    )  # same label, same z
    with pytest.raises(ValueError, match="class-conditional.*pass labels"):
        g(z)


@pytest.mark.parametrize("kind", ["mlp", "dcgan"])
def test_projection_discriminator_depends_on_the_label(kind: str) -> None:
    shape = (1, 28, 28)
    d = (
        MLPDiscriminator(shape, conditional=True)
        if kind == "mlp"
        else DCGANDiscriminator(shape, width=8, conditional=True)
    )
    x = torch.randn(1, *shape).expand(10, *shape)
    out = d(x, torch.arange(10))
    assert out.shape == (10,) and out.unique().numel() == 10


@pytest.mark.parametrize("kind", ["mlp", "dcgan"])
def test_spectral_norm_bounds_every_weight(kind: str) -> None:
    torch.manual_seed(0)
    shape = (1, 8, 8)
    d = (
        MLPDiscriminator(shape, spectral_norm=True)
        if kind == "mlp"
        else DCGANDiscriminator(shape, width=8, spectral_norm=True)
    )
    layers = [m for m in d.modules() if isinstance(m, nn.Linear | nn.Conv2d)]
    assert layers and all(hasattr(m, "parametrizations") for m in layers)
    d.train()
    for _ in range(30):  # power iterations
        d(torch.randn(4, *shape))
    d.eval()
    for m in layers:
        sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)
        assert float(sigma) == pytest.approx(1.0, abs=0.05)


def test_discriminator_norm_options() -> None:
    for norm, kind in (("batch", nn.BatchNorm2d), ("layer", nn.GroupNorm)):
        d = DCGANDiscriminator((1, 28, 28), norm=norm)
        assert sum(isinstance(m, kind) for m in d.modules()) == 1  # not after the first conv
    assert not any(
        isinstance(m, nn.BatchNorm2d | nn.GroupNorm)
        for m in DCGANDiscriminator((1, 28, 28)).modules()
    )
    with pytest.raises(ValueError, match="unknown norm 'instance'"):
        DCGANDiscriminator((1, 28, 28), norm="instance")


def test_channels_last_gives_the_same_outputs() -> None:
    torch.manual_seed(0)
    g, d = (
        DCGANGenerator(16, (1, 28, 28), width=8).eval(),
        DCGANDiscriminator((1, 28, 28), width=8).eval(),
    )
    z = torch.randn(3, 16)
    x, score = g(z), d(g(z))
    g.to(memory_format=torch.channels_last)
    d.to(memory_format=torch.channels_last)
    assert torch.allclose(g(z), x, atol=1e-5) and torch.allclose(
        d(x.contiguous(memory_format=torch.channels_last)), score, atol=1e-5
    )


def test_class_conditional_batch_norm_is_batch_norm_with_a_gain_and_bias_per_class() -> None:
    torch.manual_seed(0)
    norm = ClassConditionalBatchNorm2d(4, num_classes=3).train()
    with torch.no_grad():
        norm.gain.weight.copy_(torch.rand(3, 4) + 0.5)
        norm.bias.weight.copy_(torch.randn(3, 4))
    x, labels = torch.randn(6, 4, 5, 5), torch.tensor([0, 1, 2, 2, 1, 0])
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    normalized = (x - mean) / torch.sqrt(var + norm.norm.eps)
    gain = norm.gain.weight[labels][:, :, None, None]
    bias = norm.bias.weight[labels][:, :, None, None]
    assert torch.allclose(norm(x, labels), gain * normalized + bias, atol=1e-5)


def test_conditional_norm_conditions_every_batch_norm_of_the_generator() -> None:
    """With the label embedding of z silenced, only the class-conditional norms can tell the
    classes apart: they do, and the plain conditional generator then cannot."""
    torch.manual_seed(0)
    shape = (1, 28, 28)
    g = DCGANGenerator(16, shape, width=8, conditional=True, conditional_norm=True)
    plain = DCGANGenerator(16, shape, width=8, conditional=True)
    norms = [m for m in g.modules() if isinstance(m, ClassConditionalBatchNorm2d)]
    assert len(norms) == 2 and not any(isinstance(m, nn.BatchNorm2d) for m in g.net)
    for norm in norms:  # per-class gains as training would spread them
        nn.init.normal_(norm.gain.weight, 1.0, 0.5)
    z = torch.randn(1, 16).expand(10, 16)
    for net in (g, plain):
        nn.init.zeros_(net.embed.weight)
        net(torch.randn(10, 16), torch.arange(10))  # running statistics of one batch
        net.eval()
    out = g(z, torch.arange(10)).flatten(1)
    assert (out - out[:1]).abs().amax(1)[1:].min() > 1e-4  # every class differs
    assert torch.equal(plain(z, torch.arange(10))[0], plain(z, torch.arange(10))[1])


def test_conditional_norm_is_off_by_default_and_needs_labels() -> None:
    """The default keeps the generator's layers (and so the keys of existing checkpoints)."""
    g = DCGANGenerator(16, (1, 8, 8), width=8, conditional=True)
    assert [k for k in g.state_dict() if k.startswith("net.0.")] == [
        "net.0.weight",
        "net.0.bias",
        "net.0.running_mean",
        "net.0.running_var",
        "net.0.num_batches_tracked",
    ]
    with_norm = DCGANGenerator(16, (1, 8, 8), width=8, conditional=True, conditional_norm=True)
    assert {k for k in with_norm.state_dict() if k.startswith("net.0.")} == {
        "net.0.gain.weight",
        "net.0.bias.weight",
        "net.0.norm.running_mean",
        "net.0.norm.running_var",
        "net.0.norm.num_batches_tracked",
    }
    with pytest.raises(ValueError, match="conditional_norm=true needs a conditional generator"):
        DCGANGenerator(16, (1, 8, 8), conditional_norm=True)
