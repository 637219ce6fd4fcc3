"""ImageClassifier pieces that need no training run."""

import functools

import torch

from cnngan.models import ImageClassifier
from cnngan.nets import ConvNet


def _classifier(**kwargs) -> ImageClassifier:
    torch.manual_seed(0)
    net = ConvNet((1, 8, 8), 10, channels=(8,), fc_dims=(16,))
    return ImageClassifier(net, functools.partial(torch.optim.SGD, lr=0.1), 10, **kwargs)


def test_tta_hflip_averages_image_and_mirror_logits_outside_training() -> None:
    model = _classifier(tta_hflip=True).eval()
    x = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        plain, mirrored = model.net(x), model.net(x.flip(-1))
        assert torch.allclose(model(x), (plain + mirrored) / 2, atol=1e-6)
        assert not torch.allclose(model(x), plain)
        model.train()
        assert torch.allclose(model(x), model.net(x))  # training sees single images


def test_tta_is_off_by_default() -> None:
    model = _classifier().eval()
    x = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(model(x), model.net(x))
