"""Every metric of the suite against a direct numpy/scipy computation on the same features, and
the properties that catch swapped or broken metrics (synthetic features: fast, no dataset)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.spatial.distance import cdist

from cnngan.metrics.evaluator import FeatureNet
from cnngan.metrics.functional import fid_from_features, knn_metrics, mode_coverage
from cnngan.metrics.suite import GanMetrics


class FlatFeatures(FeatureNet):
    """A feature "network" whose inputs are the features: (N, D) rows in, the same rows out; the
    logits are the first `num_classes` columns."""

    def __init__(self, dim: int, num_classes: int = 4) -> None:
        super().__init__()
        self.num_features, self.num_classes = dim, num_classes
        self.calls = 0

    def _features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.calls += 1
        x = x.reshape(len(x), -1).double()
        return x, x[:, : self.num_classes].float()


def suite_scores(real: torch.Tensor, fake: torch.Tensor, **kwargs) -> dict:
    kwargs.setdefault("kid_subsets", 10)
    suite = GanMetrics(FlatFeatures(real.shape[1]), **kwargs)
    suite.update(real, real=True)
    suite.update(fake, real=False)
    return suite.compute()


# ----------------------------------------------------------------------------- numpy references
def np_fid(a: np.ndarray, b: np.ndarray) -> float:
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(
        ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean)
    )


def np_kid(a: np.ndarray, b: np.ndarray) -> float:
    """Unbiased MMD^2 with the cubic polynomial kernel (Binkowski et al. 2018), one subset."""
    d = a.shape[1]

    def kernel(x, y):
        return (x @ y.T / d + 1) ** 3

    m = len(a)
    kaa, kbb, kab = kernel(a, a), kernel(b, b), kernel(a, b)
    return float(
        (kaa.sum() - np.trace(kaa)) / (m * (m - 1))
        + (kbb.sum() - np.trace(kbb)) / (m * (m - 1))
        - 2 * kab.mean()
    )


def np_inception_score(logits: np.ndarray) -> float:
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    marginal = p.mean(0)
    return float(np.exp((p * (np.log(p) - np.log(marginal))).sum(1).mean()))


def np_knn(real: np.ndarray, fake: np.ndarray, k_pr: int, k_dc: int) -> dict:
    rr, ff, fr = cdist(real, real), cdist(fake, fake), cdist(fake, real)
    r_pr = np.sort(rr, axis=1)[:, k_pr]  # column 0 is the distance to itself
    r_dc = np.sort(rr, axis=1)[:, k_dc]
    f_pr = np.sort(ff, axis=1)[:, k_pr]
    precision = np.mean([(fr[j] <= r_pr).any() for j in range(len(fake))])
    recall = np.mean([(fr[:, i] <= f_pr).any() for i in range(len(real))])
    density = (fr <= r_dc[None, :]).sum() / (k_dc * len(fake))
    coverage = np.mean([(fr[:, i] <= r_dc[i]).any() for i in range(len(real))])
    return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}


@pytest.fixture
def two_sets() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(400, 8, generator=gen, dtype=torch.float64)
    fake = 0.8 * torch.randn(300, 8, generator=gen, dtype=torch.float64) + 0.3
    return real, fake


# ----------------------------------------------------------------------------- agreement
def test_fid_matches_scipy(two_sets) -> None:
    real, fake = two_sets
    expected = np_fid(real.numpy(), fake.numpy())
    assert fid_from_features(real, fake) == pytest.approx(expected, rel=1e-6)
    assert suite_scores(real, fake, kid_subset_size=300)["fid"] == pytest.approx(expected, rel=1e-5)


def test_fid_matches_pytorch_fid(two_sets) -> None:
    """An independent implementation (pytorch-fid's calculate_frechet_distance: scipy's sqrtm with
    its own stabilization) on the same features and statistics."""
    from pytorch_fid.fid_score import calculate_frechet_distance

    real, fake = two_sets
    a, b = real.numpy(), fake.numpy()
    theirs = calculate_frechet_distance(
        a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    )
    assert theirs > 0.5  # the two sets differ: not a 0 == 0 agreement
    assert fid_from_features(real, fake) == pytest.approx(theirs, rel=1e-6)
    assert suite_scores(real, fake, kid_subset_size=300)["fid"] == pytest.approx(theirs, rel=1e-5)


def test_kid_matches_numpy_unbiased_mmd(two_sets) -> None:
    real, fake = two_sets
    real, fake = real[:300], fake  # one subset of all 300 = the whole sets (MMD ignores order)
    scores = suite_scores(real, fake, kid_subsets=3, kid_subset_size=300)
    assert scores["kid_mean"] == pytest.approx(np_kid(real.numpy(), fake.numpy()), rel=1e-6)
    assert scores["kid_std"] == pytest.approx(0.0, abs=1e-9)


def test_inception_score_matches_numpy(two_sets) -> None:
    real, fake = two_sets
    scores = suite_scores(real, fake * 3, is_splits=1, kid_subset_size=300)
    assert scores["is_mean"] == pytest.approx(
        np_inception_score((fake * 3)[:, :4].numpy()), rel=1e-5
    )
    assert scores["is_mean"] > 1.0


@pytest.mark.parametrize("k_pr,k_dc", [(3, 5), (1, 2)])
def test_knn_metrics_match_scipy(two_sets, k_pr: int, k_dc: int) -> None:
    real, fake = two_sets
    expected = np_knn(real.numpy(), fake.numpy(), k_pr, k_dc)
    found = knn_metrics(real, fake, pr_k=k_pr, dc_k=k_dc, chunk=64)  # several chunks
    for key, value in expected.items():
        assert found[key] == pytest.approx(value, abs=1e-12), key


def test_suite_runs_the_feature_net_once_per_batch(two_sets) -> None:
    real, fake = two_sets
    net = FlatFeatures(8)
    suite = GanMetrics(net, kid_subset_size=300)
    suite.update(real, real=True)
    suite.update(fake, real=False)  # FID, KID and IS all see this batch
    assert net.calls == 2


# ----------------------------------------------------------------------------- properties
def test_fid_of_a_set_with_itself_is_zero(two_sets) -> None:
    real, _ = two_sets
    scores = suite_scores(real, real.clone(), kid_subset_size=400)
    assert abs(scores["fid"]) < 1e-6
    assert scores["precision"] == scores["recall"] == scores["coverage"] == 1.0


def test_kid_is_about_zero_for_two_samples_of_one_distribution() -> None:
    gen = torch.Generator().manual_seed(1)
    a, b = torch.randn(2000, 16, generator=gen), torch.randn(2000, 16, generator=gen)
    shifted = torch.randn(2000, 16, generator=gen) + 0.5
    same = suite_scores(a, b, kid_subsets=20, kid_subset_size=1000)
    different = suite_scores(a, shifted, kid_subsets=20, kid_subset_size=1000)
    assert abs(same["kid_mean"]) < 3 * same["kid_std"] + 1e-3
    assert different["kid_mean"] > 50 * abs(same["kid_mean"]) and different["kid_mean"] > 0.05


def test_one_mode_generator_has_high_precision_and_low_recall() -> None:
    """Real data: 5 well-separated clusters. A generator that only draws cluster 0 lies inside the
    real manifold (precision ~1) but covers a fifth of it (recall ~0.2): not swapped."""
    gen = torch.Generator().manual_seed(2)
    centers = torch.eye(5, 4) * 20
    real = centers.repeat_interleave(300, 0) + torch.randn(1500, 4, generator=gen)
    fake = centers[0] + torch.randn(300, 4, generator=gen)
    scores = knn_metrics(real, fake)
    assert scores["precision"] > 0.9 and scores["recall"] < 0.3
    assert scores["coverage"] < 0.3
    every_mode = centers.repeat_interleave(60, 0) + torch.randn(300, 4, generator=gen)
    spread = knn_metrics(real, every_mode)
    assert spread["precision"] > 0.9 and spread["recall"] > 0.7


def test_density_is_about_one_for_matching_distributions() -> None:
    gen = torch.Generator().manual_seed(3)
    a, b = torch.randn(1500, 6, generator=gen), torch.randn(1500, 6, generator=gen)
    scores = knn_metrics(a, b)
    assert 0.8 < scores["density"] < 1.2 and scores["coverage"] > 0.9


def test_mode_coverage_counts_classes_and_kl() -> None:
    one_class = torch.zeros(500, 10)
    one_class[:, 3] = 5.0
    found = mode_coverage(one_class.softmax(1))
    assert found["modes_covered"] == 1
    assert found["mode_kl"] == pytest.approx(np.log(10))
    balanced = torch.nn.functional.one_hot(torch.arange(1000) % 10, 10).float()
    found = mode_coverage(balanced)
    assert found["modes_covered"] == 10 and found["mode_kl"] == pytest.approx(0.0, abs=1e-12)
    # a class with 3 of 1000 predictions (3% of its fair share) is not a mode
    labels = torch.cat([torch.arange(997) % 9, torch.full((3,), 9)])
    assert mode_coverage(torch.nn.functional.one_hot(labels, 10).float())["modes_covered"] == 9


def test_compute_refuses_too_few_samples() -> None:
    suite = GanMetrics(FlatFeatures(4))
    suite.update(torch.randn(5, 4), real=True)
    with pytest.raises(RuntimeError, match="at least 2"):
        suite.compute()
