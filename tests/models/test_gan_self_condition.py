"""`model.self_cond_clusters`: an unconditional GAN conditioned on k-means clusters of its
training images (experiment=gan_dcgan_selfcond), with a real Trainer on the 8x8 digits."""

from __future__ import annotations

import hydra
import lightning as L
import pytest
import torch

from cnngan.models.gan.clusters import ClusterLabels, kmeans
from tests.models.test_gan import BASE, build

SELF_COND = ["experiment=gan_dcgan_selfcond", *BASE[1:]]


def test_kmeans_separates_far_apart_groups_the_same_way_every_time() -> None:
    torch.manual_seed(0)
    truth = torch.arange(90) // 30
    points = torch.randn(90, 2) * 0.1 + torch.tensor([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])[truth]
    centroids, assignment = kmeans(points, 3, seed=1)
    groups = {int(assignment[truth == g].unique().item()) for g in range(3)}  # one cluster each
    assert groups == {0, 1, 2}
    again, _ = kmeans(points, 3, seed=1)
    assert torch.equal(centroids, again)


def fitted(sizes: list[float], centroids: torch.Tensor) -> ClusterLabels:
    clusters = ClusterLabels(len(sizes), centroids.shape[1:])
    clusters.centroids.copy_(centroids.flatten(1))
    clusters.sizes.copy_(torch.tensor(sizes))
    return clusters


def test_samples_draw_clusters_in_proportion_to_their_sizes() -> None:
    clusters = fitted([300.0, 100.0, 0.0], torch.zeros(3, 1, 2, 2))
    drawn = clusters.draw(4000, torch.Generator().manual_seed(0))
    assert set(drawn.tolist()) == {0, 1}
    assert (drawn == 0).float().mean().item() == pytest.approx(0.75, abs=0.03)


def test_an_image_with_a_hole_is_assigned_by_its_known_pixels() -> None:
    clusters = fitted([1.0, 1.0], torch.stack([-torch.ones(1, 2, 2), torch.ones(1, 2, 2)]))
    image = torch.tensor([1.0, -1.0, -1.0, -1.0]).view(1, 1, 2, 2)
    hole = torch.tensor([False, True, True, True]).view(1, 1, 2, 2)
    assert clusters.assign(image).item() == 0  # all pixels: nearer the -1 centroid
    assert clusters.assign_known(image, hole).item() == 1  # the known pixel is +1


def test_before_the_fit_samples_draw_clusters_uniformly_and_reals_are_refused() -> None:
    clusters = ClusterLabels(4, (1, 2, 2))
    drawn = clusters.draw(4000, torch.Generator().manual_seed(0))
    assert torch.bincount(drawn, minlength=4).min().item() > 900
    with pytest.raises(RuntimeError, match="not fitted"):
        clusters.assign(torch.zeros(3, 1, 2, 2))


class RealBatch(L.Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.images, self.labels = batch[0].detach().clone(), batch[1].detach().clone()


def test_a_fit_clusters_the_training_images_and_conditions_both_nets_on_them(make_cfg) -> None:
    trainer, model, dm = build(make_cfg, [*SELF_COND, "trainer.max_steps=1"], [real := RealBatch()])
    calls: list[torch.Tensor] = []
    model.discriminator.register_forward_hook(lambda m, args, out: calls.append(args[1]))
    assert not model.clusters.fitted
    trainer.fit(model, datamodule=dm)
    assert model.clusters.sizes.sum().item() == len(dm.split_images("train")[0])
    assert (model.clusters.sizes > 0).all()
    clusters = model.clusters.assign(real.images)
    assert all(torch.equal(labels, clusters) for labels in calls)  # D's real and fake steps
    assert not torch.equal(clusters, real.labels)  # not the class labels of the data


def test_clusters_travel_with_the_weights_and_a_resumed_fit_keeps_them(make_cfg) -> None:
    trainer, model, dm = build(make_cfg, [*SELF_COND, "trainer.max_steps=1"], [])
    trainer.fit(model, datamodule=dm)
    loaded = hydra.utils.instantiate(make_cfg("train", SELF_COND).model)
    loaded.load_state_dict(model.state_dict())
    assert torch.equal(loaded.clusters.centroids, model.clusters.centroids)
    first = model.generate(6, generator=torch.Generator().manual_seed(3))
    assert torch.equal(first, loaded.generate(6, generator=torch.Generator().manual_seed(3)))
    assert torch.equal(model.decode(torch.ones(4, 100)), loaded.decode(torch.ones(4, 100)))
    moved = model.clusters.centroids + 0.5  # a refit would overwrite this
    model.clusters.centroids.copy_(moved)
    trainer, _, _ = build(make_cfg, [*SELF_COND, "trainer.max_steps=2"], [])
    trainer.fit(model, datamodule=dm)
    assert torch.equal(model.clusters.centroids, moved)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.conditional=true"], "conditions on clusters instead of classes"),
        (
            ["model.discriminator.num_classes=10", "model.self_cond_clusters=5"],
            "model.discriminator.num_classes=10 but model.self_cond_clusters=5 needs 5",
        ),
    ],
)
def test_bad_self_conditioned_configs_are_named(make_cfg, overrides, message) -> None:
    with pytest.raises(Exception, match=message):
        hydra.utils.instantiate(make_cfg("train", SELF_COND + overrides).model)


def test_without_the_experiment_the_nets_are_named(make_cfg) -> None:
    with pytest.raises(Exception, match="model.generator.conditional=False but model.self_cond"):
        hydra.utils.instantiate(make_cfg("train", [*BASE, "model.self_cond_clusters=4"]).model)
