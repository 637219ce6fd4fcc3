"""ImageClassifier pieces that need no training run."""

import functools

import pytest
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


@pytest.mark.slow
def test_a_few_epochs_on_digits_learn_and_finish_the_schedule(make_cfg) -> None:
    """The CNN config with a real Trainer: well above chance (10%) after 3 epochs on the 8x8
    digits, and the OneCycle schedule, sized from the trainer's budget, ends on the last step."""
    import hydra
    import lightning as L

    cfg = make_cfg("train", ["data=digits", "trainer.accelerator=cpu", "trainer.max_epochs=3"])
    L.seed_everything(0)
    datamodule, model = hydra.utils.instantiate(cfg.data), hydra.utils.instantiate(cfg.model)
    trainer = hydra.utils.instantiate(
        cfg.trainer, logger=False, enable_checkpointing=False, enable_progress_bar=False
    )
    trainer.fit(model, datamodule=datamodule)
    metrics = trainer.callback_metrics
    assert float(metrics["val/acc"]) > 0.8 and float(metrics["train/acc"]) > 0.5
    assert float(metrics["val/acc_best"]) >= float(metrics["val/acc"])
    scheduler = model.lr_schedulers()
    assert scheduler.total_steps == trainer.global_step == trainer.num_training_batches * 3
    assert scheduler.last_epoch == scheduler.total_steps
