"""GAN networks: the seed's MLP exactly, DCGAN sized from the image shape, conditioning, SN."""

import pytest
import torch
from torch import nn

from cnngan.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
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
