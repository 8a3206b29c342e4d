"""The MAF MoG base density (models/flows/mog_base.py): its log-density is the mixture's, it integrates to 1,
its samples have the mixture's moments, and a bad shape is refused with the shapes named."""
import numpy as np
import pytest
from scipy import stats

import minigen as mg
from minigen.models.flows.mog_base import MixtureBase, MixtureOfDiagonalNormals


def _mixture(seed=0, k=3, d=2):
    rng = np.random.default_rng(seed)
    logits, loc, log_scale = rng.normal(size=k), rng.normal(0, 2, (k, d)), rng.normal(0, 0.3, (k, d))
    return logits, loc, log_scale, MixtureOfDiagonalNormals(mg.tensor(logits), mg.tensor(loc), mg.tensor(log_scale))


def test_log_prob_is_the_mixture_density():
    logits, loc, log_scale, dist = _mixture()
    x = np.random.default_rng(1).normal(0, 2, (7, 2))
    pi = np.exp(logits) / np.exp(logits).sum()
    expected = np.log(sum(pi[k] * stats.multivariate_normal(loc[k], np.diag(np.exp(2 * log_scale[k]))).pdf(x)
                          for k in range(len(pi))))
    np.testing.assert_allclose(dist.log_prob(mg.tensor(x)).numpy(), expected, rtol=1e-10)


def test_density_integrates_to_one_on_a_grid():
    *_, dist = _mixture(seed=2)
    g = np.linspace(-14, 14, 561)
    xx, yy = np.meshgrid(g, g)
    p = np.exp(dist.log_prob(mg.tensor(np.stack([xx.ravel(), yy.ravel()], 1))).numpy())
    assert abs(p.sum() * (g[1] - g[0]) ** 2 - 1) < 1e-3


def test_samples_have_the_mixture_moments():
    logits, loc, log_scale, dist = _mixture(seed=3)
    mg.manual_seed(0)
    u = dist.sample((40000,)).numpy()
    pi = np.exp(logits) / np.exp(logits).sum()
    mean = pi @ loc
    second = pi @ (np.exp(2 * log_scale) + loc ** 2)
    assert u.shape == (40000, 2)
    np.testing.assert_allclose(u.mean(0), mean, atol=0.05)
    np.testing.assert_allclose(u.var(0), second - mean ** 2, rtol=0.05)


def test_gradients_reach_every_parameter_and_bad_shapes_are_named():
    base = MixtureBase(dims=4, components=3)
    base.distribution().log_prob(mg.tensor(np.ones((5, 4), np.float32))).sum().backward()
    assert all(p.grad is not None and np.abs(p.grad.numpy()).sum() > 0 for p in base.parameters())
    with pytest.raises(ValueError, match=r"MixtureOfDiagonalNormals.*\(3,\).*\(3, 4\).*\(3, 5\)"):
        MixtureOfDiagonalNormals(base.logits, base.loc, mg.tensor(np.zeros((3, 5), np.float32)))
