import pytest
import torch
from torch import nn

from cnngan.nets import ConvNet, ResNet


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (1, 8, 8)])
@pytest.mark.parametrize("pool", ["max", "avg"])
def test_convnet_shapes(shape: tuple[int, int, int], pool: str) -> None:
    channels = (8, 16) if shape[1] == 8 else (8, 16, 32)
    net = ConvNet(shape, 10, channels=channels, pool=pool)
    assert net(torch.randn(4, *shape)).shape == (4, 10)
    assert net.embed(torch.randn(4, *shape)).shape == (4, net.num_features)
    pools = [m for m in net.modules() if isinstance(m, nn.MaxPool2d | nn.AvgPool2d)]
    assert len(pools) == len(channels)
    assert all(isinstance(p, nn.MaxPool2d if pool == "max" else nn.AvgPool2d) for p in pools)


def test_max_and_avg_pooling_compute_different_things() -> None:
    torch.manual_seed(0)
    a = ConvNet((1, 28, 28), 10, pool="max")
    b = ConvNet((1, 28, 28), 10, pool="avg")
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 1, 28, 28)
    assert not torch.allclose(a.eval()(x), b.eval()(x))


def test_convnet_config_values() -> None:
    net = ConvNet(
        (1, 28, 28),
        10,
        channels=(4, 8),
        convs_per_block=2,
        batch_norm=False,
        fc_dims=(32, 16),
        dropout=0.5,
    )
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [4, 4, 8, 8]
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert [m.out_features for m in net.modules() if isinstance(m, nn.Linear)] == [32, 16, 10]
    assert all(m.p == 0.5 for m in net.modules() if isinstance(m, nn.Dropout))


def test_too_small_image_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="too small for 4 pooling blocks"):
        ConvNet((1, 8, 8), 10, channels=(8, 16, 32, 64))


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (1, 8, 8)])
def test_resnet_shapes(shape: tuple[int, int, int]) -> None:
    net = ResNet(shape, 10, widths=(8, 16, 32), blocks_per_stage=1)
    assert net(torch.randn(2, *shape)).shape == (2, 10)
    out = net(torch.randn(2, *shape))
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
