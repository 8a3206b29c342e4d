"""VaDE (models/latent/vade.py) and the clustering measures (models/evaluation/clustering.py): the mixture
prior's density, eq. 17's KL against the closed-form Gaussian KL when there is one component, the GMM fit,
the switch from pretraining, and cluster_acc's best one-to-one matching."""
from __future__ import annotations

import numpy as np
import pytest

import minigen as mg
import minigen.models as models
from minigen.distributions import Normal, kl_divergence
from minigen.models.evaluation.clustering import cluster_acc, kmeans, kmeans_cluster_acc, nearest_centre
from minigen.models.latent.vade import fit_diagonal_gmm


def small_vade(**kw):
    mg.manual_seed(0)
    return models.create("vade", **{"hidden": 16, "latent": 3, "clusters": 4, "pretrain_steps": 2, **kw})


def test_cluster_acc_is_the_best_one_to_one_matching():
    labels = np.array([0, 0, 1, 1, 2, 2])
    assert cluster_acc(labels, np.array([2, 2, 0, 0, 1, 1])) == 1.0
    assert cluster_acc(labels, np.array([0, 0, 0, 0, 1, 1])) == pytest.approx(4 / 6)
    assert cluster_acc(labels, np.zeros(6, np.int64)) == pytest.approx(2 / 6)
    with pytest.raises(ValueError, match="cluster_acc"):
        cluster_acc(labels, labels[:3])


def test_kmeans_and_the_gmm_separate_well_separated_blobs():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [5, 0], [0, 5]], float)
    y = rng.integers(0, 3, 300)
    x = centres[y] + 0.3 * rng.standard_normal((300, 2))
    assert cluster_acc(y, nearest_centre(x, kmeans(x, 3))) == 1.0
    assert kmeans_cluster_acc(x[:200], x[200:], y[200:], 3) == 1.0
    weights, means, variances = fit_diagonal_gmm(x, 3)
    assert weights.sum() == pytest.approx(1.0)
    assert np.sort(np.abs(variances.ravel() - 0.09)).max() < 0.04
    order = nearest_centre(centres, means)
    assert len(set(order)) == 3


def test_log_prior_is_the_mixture_density():
    m = small_vade()
    z = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    pi = np.exp(m.pi_logits.numpy()) / np.exp(m.pi_logits.numpy()).sum()
    mu, var = m.prior_mean.numpy(), np.exp(m.prior_logvar.numpy())
    dens = (pi * np.exp(-0.5 * (((z[:, None] - mu) ** 2 / var) + np.log(2 * np.pi * var)).sum(-1))).sum(1)
    with mg.no_grad():
        np.testing.assert_allclose(m.log_prior(mg.tensor(z)).numpy(), np.log(dens), rtol=1e-5, atol=1e-5)


def test_one_component_kl_is_the_gaussian_kl():
    m = small_vade(clusters=1)
    m.prior_mean.data = np.array([[0.3, -0.2, 0.1]], np.float32)
    m.prior_logvar.data = np.array([[0.2, -0.4, 0.0]], np.float32)
    x = m.eval_batch("test")[:6]
    mg.manual_seed(3)
    with mg.no_grad():
        _, kl = m.elbo_terms(x)
    mg.manual_seed(3)
    with mg.no_grad():
        q = m.encode(m._observed(x.flatten(1)))
        prior = Normal(m.prior_mean[0], (m.prior_logvar[0] * 0.5).exp())
        expected = kl_divergence(q, Normal(prior.loc.expand(q.loc.shape), prior.scale.expand(q.loc.shape)))
    np.testing.assert_allclose(kl.numpy(), expected.sum(axis=-1).numpy(), rtol=1e-4, atol=1e-4)


def test_pretraining_then_gmm_initialisation_then_the_elbo():
    m = small_vade()
    opts = m.configure_optimizers()
    batch = next(iter(m.loader("train", batch_size=16)))
    logs = [m.train_step(batch, opts, step) for step in range(4)]
    assert "kl" not in logs[0] and "kl" in logs[2], "the ELBO starts at step == pretrain_steps"
    codes = m.codes("train")
    assert m.prior_mean.numpy().std() < 2 * codes.std() + 1e-3  # fitted to the codes, not the random init
    clusters = m.predict_cluster(m.eval_batch("test"))
    assert clusters.shape == (300,) and clusters.min() >= 0 and clusters.max() < 4


def test_importance_sampled_likelihood_is_above_the_elbo():
    m = small_vade()
    x = m.eval_batch("test")[:20]
    mg.manual_seed(0)
    with m.evaluating():
        elbo = float(np.mean([m.elbo(x).numpy().mean() for _ in range(20)]))
        log_p = float(m.log_prob_estimate(x, 200).numpy().mean())
    assert log_p > elbo
