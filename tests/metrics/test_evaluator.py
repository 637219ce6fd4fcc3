"""The shipped evaluator: hash check, metadata, image convention, frozen mode."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from torchmetrics.image.fid import FrechetInceptionDistance

from cnngan.core.image_io import to_unit
from cnngan.metrics.evaluator import (
    WEIGHTS_DIR,
    EvaluatorError,
    available_evaluators,
    load_evaluator,
    sha256_file,
)
from cnngan.metrics.inception import InceptionUnavailableError, find_inception_weights


@pytest.fixture(scope="module")
def evaluator():
    return load_evaluator("fashion_mnist")


def test_fashion_mnist_evaluator_ships_with_its_protocol() -> None:
    assert "fashion_mnist" in available_evaluators()
    meta = json.loads((WEIGHTS_DIR / "fashion_mnist.json").read_text())
    weights = WEIGHTS_DIR / meta["file"]
    assert sha256_file(weights) == meta["sha256"]
    assert weights.stat().st_size < 2_000_000
    assert (
        meta["features"]["layers"] and meta["training"]["experiment"] == "evaluator_fashion_mnist"
    )


def test_hash_check_rejects_a_modified_file(tmp_path: Path) -> None:
    for suffix in (".pt", ".json"):
        shutil.copy(WEIGHTS_DIR / f"fashion_mnist{suffix}", tmp_path / f"copy{suffix}")
    assert load_evaluator(tmp_path / "copy.pt").num_features > 0  # the intact copy loads
    raw = bytearray((tmp_path / "copy.pt").read_bytes())
    raw[-100] ^= 0x01  # one bit of a weight
    (tmp_path / "copy.pt").write_bytes(bytes(raw))
    with pytest.raises(EvaluatorError, match="sha256"):
        load_evaluator(tmp_path / "copy.pt")


def test_missing_evaluator_names_the_fix() -> None:
    with pytest.raises(EvaluatorError, match="make evaluator"):
        load_evaluator("no_such_dataset")


def test_uint8_and_unit_floats_give_the_same_features(evaluator) -> None:
    images = torch.randint(0, 256, (6, 1, 28, 28), dtype=torch.uint8)
    assert torch.allclose(evaluator(images), evaluator(images.float() / 255.0))
    gan_output = images.float() / 127.5 - 1.0  # a GAN's [-1, 1]
    unit = to_unit(gan_output, "symmetric")
    assert torch.allclose(evaluator(unit), evaluator(images), atol=1e-5)
    with pytest.raises(ValueError, match="to_unit"):
        evaluator(gan_output)
    with pytest.raises(ValueError, match="shape"):
        evaluator(torch.rand(2, 3, 32, 32))


def test_evaluator_stays_frozen(evaluator) -> None:
    """Batch norm in training mode would make one image's features depend on its batch."""
    images = torch.rand(8, 1, 28, 28)
    alone = evaluator(images[:1].clone())
    evaluator.train()
    assert not evaluator.training and not evaluator.net.training
    together = evaluator(images)[:1]
    assert torch.allclose(alone, together, atol=1e-5)
    assert not any(p.requires_grad for p in evaluator.parameters())


def test_torchmetrics_reads_num_features_instead_of_probing(evaluator) -> None:
    fid = FrechetInceptionDistance(feature=evaluator)  # a 3x299x299 probe would crash here
    assert fid.real_features_sum.shape == (evaluator.num_features,)
    images = torch.rand(64, 1, 28, 28)
    fid.update(images, real=True)
    fid.update(images, real=False)
    assert abs(float(fid.compute())) < 1e-3


def test_layers_can_be_chosen(evaluator) -> None:
    widths = evaluator.layer_widths()
    other = load_evaluator("fashion_mnist", layers=["block2", "penultimate"])
    assert other.num_features == widths["block2"] + widths["penultimate"]
    assert other(torch.rand(3, 1, 28, 28)).shape == (3, other.num_features)
    with pytest.raises(ValueError, match="choose from"):
        load_evaluator("fashion_mnist", layers=["block9"])


def test_inception_without_weights_gives_a_clear_message(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(InceptionUnavailableError, match="metrics.features=evaluator"):
        find_inception_weights()
    from cnngan.metrics.inception import InceptionFeatures

    with pytest.raises(InceptionUnavailableError):
        InceptionFeatures()
