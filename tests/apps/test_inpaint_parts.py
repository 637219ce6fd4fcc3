"""Masks, completion baselines, PSNR/SSIM on the hole and GAN inversion, against direct numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cnngan.apps.inpaint.baselines import diffusion_fill, mean_fill, nearest_fill, poisson_blend
from cnngan.apps.inpaint.inversion import InversionConfig, blend, context_weights, inpaint, invert
from cnngan.apps.inpaint.masks import MASKS, apply_mask, make_masks
from cnngan.apps.inpaint.quality import masked_psnr, masked_ssim, ssim_map
from cnngan.nets import DCGANGenerator

SHAPE = (1, 28, 28)


# ----------------------------------------------------------------------------- masks
def test_center_mask_is_the_central_square() -> None:
    hole = make_masks("center", 3, SHAPE)
    assert hole.shape == (3, 1, 28, 28) and hole.dtype == torch.bool
    expected = np.zeros((28, 28), dtype=bool)
    expected[7:21, 7:21] = True
    assert (hole[0, 0].numpy() == expected).all()
    assert (hole == hole[:1]).all()


def test_half_masks_and_random_fraction() -> None:
    left = make_masks("left_half", 2, SHAPE)
    assert left[0, 0, :, :14].all() and not left[0, 0, :, 14:].any()
    top = make_masks("top_half", 1, SHAPE)
    assert top[0, 0, :14].all() and not top[0, 0, 14:].any()
    rnd = make_masks(
        "random", 50, SHAPE, random_frac=0.8, generator=torch.Generator().manual_seed(0)
    )
    assert abs(rnd.float().mean().item() - 0.8) < 0.01
    assert not (rnd[0] == rnd[1]).all()  # independent per image


def test_random_box_has_the_right_size_inside_the_image() -> None:
    hole = make_masks(
        "random_box", 20, SHAPE, center_frac=0.25, generator=torch.Generator().manual_seed(1)
    )
    assert (hole.sum((1, 2, 3)) == 7 * 7).all()
    assert len({tuple(h.nonzero()[0].tolist()) for h in hole}) > 1


def test_unknown_mask_is_rejected_with_the_choices() -> None:
    with pytest.raises(ValueError, match="center"):
        make_masks("triangle", 1, SHAPE)
    assert set(MASKS) >= {"center", "random", "left_half"}


# ----------------------------------------------------------------------------- baselines
@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(4, 1, 12, 12, generator=gen, dtype=torch.float64)
    hole = make_masks("random", 4, (1, 12, 12), random_frac=0.5, generator=gen)
    hole[:, :, 4:8, 4:8] = True
    return images, hole


def test_mean_fill_uses_the_mean_of_the_known_pixels(batch) -> None:
    images, hole = batch
    out = mean_fill(images, hole)
    for i in range(len(images)):
        x, h = images[i, 0].numpy(), hole[i, 0].numpy()
        assert np.allclose(out[i, 0].numpy()[h], x[~h].mean())
        assert np.array_equal(out[i, 0].numpy()[~h], x[~h])


def test_nearest_fill_copies_a_closest_known_pixel(batch) -> None:
    images, hole = batch
    out = nearest_fill(images, hole)
    for i in range(len(images)):
        x, h, o = images[i, 0].numpy(), hole[i, 0].numpy(), out[i, 0].numpy()
        known = np.argwhere(~h)
        for r, c in np.argwhere(h):
            d = ((known - [r, c]) ** 2).sum(1)
            candidates = {x[tuple(p)] for p in known[d == d.min()]}
            assert o[r, c] in candidates
        assert np.array_equal(o[~h], x[~h])


def test_diffusion_fill_solves_laplace_and_keeps_linear_ramps() -> None:
    ii, jj = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    ramp = (0.02 * ii + 0.03 * jj).double().view(1, 1, 16, 16)
    hole = make_masks("center", 1, (1, 16, 16))
    out = diffusion_fill(apply_mask(ramp, hole), hole, iterations=5000, tol=1e-10)
    assert torch.allclose(out, ramp, atol=1e-6)  # a linear function is harmonic


def test_diffusion_fill_is_the_neighbour_average_inside_the_hole(batch) -> None:
    images, hole = batch
    out = diffusion_fill(images, hole, iterations=5000, tol=1e-12).numpy()
    padded = np.pad(out, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")
    avg = (
        padded[..., :-2, 1:-1]
        + padded[..., 2:, 1:-1]
        + padded[..., 1:-1, :-2]
        + padded[..., 1:-1, 2:]
    ) / 4
    h = hole.expand_as(images).numpy()
    assert np.abs(out[h] - avg[h]).max() < 1e-8
    assert np.array_equal(out[~h], images.numpy()[~h])


def test_poisson_blend_removes_a_constant_offset(batch) -> None:
    images, hole = batch
    out = poisson_blend(images + 0.3, images, hole)
    assert torch.allclose(out, images, atol=1e-4)
    pasted = blend(images + 0.3, images, hole, how="paste")
    assert torch.allclose(pasted[hole.expand_as(images)], images[hole.expand_as(images)] + 0.3)


# ----------------------------------------------------------------------------- quality
def test_masked_psnr_against_numpy(batch) -> None:
    images, hole = batch
    pred = (images + 0.1 * torch.randn_like(images)).clamp(0, 1)
    psnr = masked_psnr(pred, images, hole)
    for i in range(len(images)):
        h = hole[i, 0].numpy()
        mse = ((pred[i, 0].numpy()[h] - images[i, 0].numpy()[h]) ** 2).mean()
        assert psnr[i] == pytest.approx(10 * np.log10(1.0 / mse), rel=1e-9)
    # errors outside the hole do not count
    outside = torch.where(hole, pred, torch.zeros_like(pred))
    assert np.allclose(masked_psnr(outside, images, hole), psnr)


def test_ssim_map_matches_scikit_image() -> None:
    skimage_metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(0)
    x = rng.random((2, 1, 28, 28))
    y = np.clip(x + 0.2 * rng.standard_normal(x.shape), 0, 1)
    ours = ssim_map(x, y)
    for i in range(2):
        _, ref = skimage_metrics.structural_similarity(
            x[i, 0],
            y[i, 0],
            data_range=1.0,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            full=True,
        )
        assert np.allclose(ours[i, 0], ref, atol=1e-10)


def test_ssim_of_a_constant_region_follows_the_formula() -> None:
    # two constant images a, b: variances vanish, SSIM = (2ab + C1) / (a^2 + b^2 + C1)
    a, b, c1 = 0.2, 0.6, (0.01 * 1.0) ** 2
    x, y = np.full((1, 1, 16, 16), a), np.full((1, 1, 16, 16), b)
    assert np.allclose(ssim_map(x, y), (2 * a * b + c1) / (a * a + b * b + c1))
    hole = torch.zeros(1, 1, 16, 16, dtype=torch.bool)
    hole[..., :4, :4] = True
    assert masked_ssim(x, x, hole)[0] == pytest.approx(1.0)


# ----------------------------------------------------------------------------- inversion
@pytest.fixture
def tiny_generator() -> DCGANGenerator:
    torch.manual_seed(0)
    gen = DCGANGenerator(latent_dim=8, image_shape=(1, 8, 8), width=8, dcgan_init=False)
    for p in gen.parameters():  # larger weights: images with real structure, not near-constant
        if p.dim() > 1:
            nn.init.normal_(p, 0.0, 0.3)
    return gen.eval()


@pytest.mark.slow
def test_inversion_reduces_the_error_in_the_hole(tiny_generator) -> None:
    z_true = torch.randn(6, 8, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        target = tiny_generator(z_true)
    hole = make_masks("center", 6, (1, 8, 8))
    before = [p.detach().clone() for p in tiny_generator.parameters()]
    cfg = InversionConfig(
        steps=150, lr=0.1, restarts=3, prior_weight=1e-3, context_window=1, seed=1
    )
    cfg0 = InversionConfig(steps=0, restarts=1, seed=1)
    fake0, _, loss0 = invert(tiny_generator, target, hole, 8, cfg0)
    fake, z, loss = invert(tiny_generator, target, hole, 8, cfg)
    h = hole.expand_as(target)
    err0 = ((fake0 - target)[h] ** 2).mean()
    err = ((fake - target)[h] ** 2).mean()
    assert (loss < loss0).all()  # every image fits its known pixels better
    assert err < 0.3 * err0  # and the hole, never seen, is filled far better than a random z
    assert z.shape == (6, 8)
    # the generator is untouched: same weights, gradients still enabled, eval mode kept
    assert all(torch.equal(a, b) for a, b in zip(before, tiny_generator.parameters(), strict=True))
    assert all(p.requires_grad for p in tiny_generator.parameters()) and not tiny_generator.training


def test_inpaint_keeps_known_pixels_and_tries_every_class() -> None:
    torch.manual_seed(0)
    gen = DCGANGenerator(
        latent_dim=4, image_shape=(1, 8, 8), width=8, conditional=True, num_classes=3
    ).eval()
    images = torch.rand(5, 1, 8, 8) * 2 - 1
    hole = make_masks("left_half", 5, (1, 8, 8))
    cfg = InversionConfig(steps=3, restarts=3, batch_size=2, blend="paste")
    seen: list[torch.Tensor] = []
    forward = gen.forward

    def spy(z, labels=None):
        seen.append(labels)
        return forward(z, labels)

    gen.forward = spy
    completed, raw = inpaint(gen, images, hole, 4, cfg, num_classes=3)
    assert completed.shape == raw.shape == images.shape
    known = ~hole.expand_as(images)
    assert torch.equal(completed[known], images[known])
    assert torch.equal(seen[0][:3], torch.tensor([0, 1, 2]))


def test_context_weights_favour_pixels_next_to_the_hole() -> None:
    hole = make_masks("center", 1, (1, 16, 16), center_frac=0.25)
    w = context_weights(hole, 5)
    assert (w[hole] == 0).all()
    assert w[0, 0, 5, 8] > 0 and w[0, 0, 0, 0] == 0  # beside the hole vs far away
    assert torch.allclose(w.mean(), (~hole).float().mean())
