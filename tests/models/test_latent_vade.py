"""VaDE (models/latent/vade.py) and the clustering measures (models/evaluation/clustering.py): the mixture
prior's density, eq. 17's KL against the closed-form Gaussian KL when there is one component, the GMM fit,
the switch from pretraining, and cluster_acc's best one-to-one matching; with full covariances (models/latent/
gaussian_mixture.py): the EM fit of correlated components, the likeliest of the restarts, the mixture density,
eq. 17's KL and the samples against scipy and the closed forms, and the masked upper triangle."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal

import minigen as mg
import minigen.models as models
from minigen import nn
from minigen.distributions import Normal, kl_divergence
from minigen.models.evaluation.clustering import cluster_acc, kmeans, kmeans_cluster_acc, nearest_centre
from minigen.models.latent.gaussian_mixture import (component_log_densities, fit_gmm, precision_cholesky,
                                                    responsibilities)
from minigen.models.latent.vade import fit_diagonal_gmm


def small_vade(**kw):
    mg.manual_seed(0)
    return models.create("vade", **{"hidden": 16, "latent": 3, "clusters": 4, "pretrain_steps": 2, "gmm_restarts": 2,
                                    **kw})


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


def kl_and_posterior(m, x):
    """eq. 17's KL term on x and q(z|x) under the same dequantization noise."""
    mg.manual_seed(3)
    with mg.no_grad():
        _, kl = m.elbo_terms(x)
    mg.manual_seed(3)
    with mg.no_grad():
        return kl, m.encode(m._observed(x.flatten(1)))


def test_one_component_kl_is_the_gaussian_kl():
    m = small_vade(clusters=1)
    m.prior_mean.data = np.array([[0.3, -0.2, 0.1]], np.float32)
    m.prior_logvar.data = np.array([[0.2, -0.4, 0.0]], np.float32)
    kl, q = kl_and_posterior(m, m.eval_batch("test")[:6])
    with mg.no_grad():
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


# ------------------------------------------------------------------------ full covariance (gaussian_mixture.py)
def correlated_mixture(n=1500, seed=0):
    """Two elongated, tilted 2-D Gaussians (a diagonal mixture cannot fit their shape)."""
    rng = np.random.default_rng(seed)
    covs = np.array([[[1.0, 0.9], [0.9, 1.0]], [[1.0, -0.9], [-0.9, 1.0]]]) * 0.5
    means = np.array([[-2.0, 0.0], [2.0, 0.0]])
    y = rng.integers(0, 2, n)
    x = means[y] + np.einsum("nij,nj->ni", np.linalg.cholesky(covs)[y], rng.standard_normal((n, 2)))
    return x, y, means, covs


def test_full_gmm_recovers_correlated_components_and_restarts_keep_the_likeliest():
    x, y, means, covs = correlated_mixture()
    full = fit_gmm(x, 2, "full", restarts=3)
    order = nearest_centre(means, full.means)
    np.testing.assert_allclose(full.means[order], means, atol=0.1)
    np.testing.assert_allclose(full.covariances[order], covs, atol=0.08)
    assert full.log_likelihood > fit_gmm(x, 2, "diagonal", restarts=3).log_likelihood + 0.2
    singles = [fit_gmm(x, 4, "full", restarts=1, seed=s).log_likelihood for s in range(3)]
    assert fit_gmm(x, 4, "full", restarts=3).log_likelihood == pytest.approx(max(singles))
    log_p = component_log_densities(x[:5], full.means, full.covariances)
    expected = [[multivariate_normal(m, c).logpdf(v) for m, c in zip(full.means, full.covariances)] for v in x[:5]]
    np.testing.assert_allclose(log_p, expected, rtol=1e-10)
    p = precision_cholesky(full.covariances)
    np.testing.assert_allclose(p @ np.swapaxes(p, -1, -2), np.linalg.inv(full.covariances), rtol=1e-8, atol=1e-8)
    assert np.allclose(np.triu(p, 1), 0) and (np.diagonal(p, axis1=1, axis2=2) > 0).all()


def full_vade(cov, mu, weights):
    """A small full-covariance VaDE whose mixture is set to (weights, mu, cov); the upper triangle of its
    off-diagonal parameter holds junk, which the strictly-lower mask must ignore."""
    m = small_vade(clusters=len(mu), covariance="full")
    p = precision_cholesky(cov)
    m.pi_logits.data = np.log(weights).astype(np.float32)
    m.prior_mean.data = mu.astype(np.float32)
    m.prior_logvar.data = (-2 * np.log(np.diagonal(p, axis1=1, axis2=2))).astype(np.float32)
    junk = np.triu(np.random.default_rng(5).standard_normal(p.shape), 0)
    m.prior_precision_offdiag.data = (np.tril(p, -1) + junk).astype(np.float32)
    return m


def test_full_covariance_prior_density_kl_and_samples():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 3, 3))
    cov, mu, weights = a @ np.swapaxes(a, 1, 2) + 0.5 * np.eye(3), rng.standard_normal((2, 3)), np.array([0.3, 0.7])
    m = full_vade(cov, mu, weights)
    z = rng.standard_normal((5, 3)).astype(np.float32)
    dens = sum(w * multivariate_normal(mu[c], cov[c]).pdf(z) for c, w in enumerate(weights))
    with mg.no_grad():
        np.testing.assert_allclose(m.log_prior(mg.tensor(z)).numpy(), np.log(dens), rtol=1e-5, atol=1e-5)
    draws = m.component_sample(np.ones(20000, np.int64)).numpy()
    np.testing.assert_allclose(np.cov(draws.T), cov[1], atol=0.12 * np.abs(cov[1]).max())
    # one component: eq. 17's KL is the closed-form KL(N(mu~, diag s~^2) || N(mu_c, Sigma_c))
    one = full_vade(cov[:1], mu[:1], np.ones(1))
    x = one.eval_batch("test")[:6]
    kl, q = kl_and_posterior(one, x)
    mq, vq = q.loc.numpy().astype(np.float64), q.scale.numpy().astype(np.float64) ** 2
    inv, d = np.linalg.inv(cov[0]), mq - mu[0]
    expected = 0.5 * ((vq * np.diag(inv)).sum(1) + np.einsum("ni,ij,nj->n", d, inv, d) - 3
                      + np.linalg.slogdet(cov[0])[1] - np.log(vq).sum(1))
    np.testing.assert_allclose(kl.numpy(), expected, rtol=1e-4, atol=1e-4)
    loss = -one.elbo(x).mean()
    loss.backward()
    assert np.allclose(np.triu(one.prior_precision_offdiag.grad.numpy(), 0), 0), "the masked part learns nothing"
    assert np.abs(np.tril(one.prior_precision_offdiag.grad.numpy(), -1)).max() > 0


def test_full_covariance_initialisation_is_the_best_fit_of_the_codes():
    m = small_vade(covariance="full", gmm_restarts=2)
    m.init_prior_from_codes()
    codes = m.codes("train")
    fit = fit_gmm(codes, 4, "full", restarts=2)
    with mg.no_grad():
        log_p = m.log_prior(mg.tensor(codes.astype(np.float32))).numpy()
    assert float(log_p.mean()) == pytest.approx(fit.log_likelihood, abs=1e-3)
    with pytest.raises(ValueError, match="covariance"):
        small_vade(covariance="spherical")


def test_squared_error_pretraining_and_input_dropout():
    m = small_vade(pretrain_loss="mse")
    x = next(iter(m.loader("train", batch_size=16)))
    mg.manual_seed(1)
    loss = m.pretrain_loss(x).item()
    mg.manual_seed(1)
    obs = m._observed(m._split(x)[0])
    mean = m.decode(m.encode(obs).loc).mean.numpy()
    assert loss == pytest.approx(((mean - obs.numpy()) ** 2).sum(-1).mean(), rel=1e-5)
    m.pretrain_loss_kind = "nll"
    mg.manual_seed(1)
    assert m.pretrain_loss(x).item() != pytest.approx(loss, rel=1e-3)  # the decoder's -log p(x|z) instead

    noisy = small_vade(pretrain_noise=0.5)
    seen, observed = {}, noisy._observed

    class RecordingEncoder(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, inp):
            seen["input"] = inp.numpy()
            return self.inner(inp)

    def recording_observed(v, copies=None):
        seen["clean"] = observed(v, copies)
        return seen["clean"]

    noisy.encoder, noisy._observed = RecordingEncoder(noisy.encoder), recording_observed
    noisy.pretrain_loss(x)
    clean, inp = seen["clean"].numpy(), seen["input"]
    dropped = (inp == 0) & (clean != 0)
    assert 0.35 < dropped.mean() < 0.65  # about half the inputs zeroed, the rest scaled by 1 / (1 - p)
    assert np.allclose(inp[~dropped], 2 * clean[~dropped], atol=1e-6)
    with pytest.raises(ValueError, match="pretrain_loss"):
        small_vade(pretrain_loss="l1")
    with pytest.raises(ValueError, match="pretrain_noise"):
        small_vade(pretrain_noise=1.0)


def test_lr_decays_by_lr_decay_every_ten_epochs_after_pretraining():
    m = small_vade(lr_decay=0.5, pretrain_steps=3)
    (opt,) = m.configure_optimizers()
    (scheduler,) = m.configure_schedulers([opt], 1000)
    every = m.decay_every()
    assert every == 10 * int(np.ceil(len(m.split_arrays("train")[0]) / m.batch_size))
    rates = []
    for _ in range(3 + 2 * every + 1):
        rates.append(opt.param_groups[0]["lr"])
        scheduler.step()
    assert rates[0] == rates[3 + every - 1] == pytest.approx(m.lr)  # pretraining and the first ten epochs
    assert rates[3 + every] == pytest.approx(m.lr / 2) and rates[3 + 2 * every] == pytest.approx(m.lr / 4)
    assert small_vade().configure_schedulers(small_vade().configure_optimizers(), 10) == []
    with pytest.raises(ValueError, match="lr_decay"):
        small_vade(lr_decay=0.0)


def test_pretraining_restarts_train_apart_and_the_surest_mixture_chooses(monkeypatch):
    import minigen.models.latent.vade as vade_module

    m = small_vade(pretrain_restarts=3)
    assert len(m.autoencoders()) == 3 and m.autoencoders()[0] == (m.encoder, m.decoder)
    x = next(iter(m.loader("train", batch_size=16)))
    m.pretrain_loss(x).backward()
    for encoder, decoder in m.autoencoders():  # each autoencoder gets its own gradient
        assert all(np.abs(p.grad.numpy()).sum() > 0 for p in [*encoder.parameters(), *decoder.parameters()])
    codes = [m._codes_of(encoder, "train") for encoder, _ in m.autoencoders()]
    assert not np.allclose(codes[0], codes[1])  # other starting weights

    # the choice: the mixture whose responsibilities are surest (max_c, averaged over the codes)
    r = np.random.default_rng(0).random((len(codes[0]), 4))
    fake = iter([np.full_like(r, 0.25), np.eye(4)[r.argmax(1)], np.full_like(r, 0.5)])
    monkeypatch.setattr(vade_module, "responsibilities", lambda c, fit: next(fake))
    decoders = [[p.numpy().copy() for p in decoder.parameters()] for _, decoder in m.autoencoders()]
    m.init_prior_from_codes()
    assert m.pretrain_choice == {"chosen": 1, "sureness": [0.25, 1.0, 0.5]}
    assert np.allclose(m.codes("train"), codes[1])  # candidate 1 is now the model's encoder (and decoder)
    assert np.allclose(m._codes_of(m.autoencoders()[1][0], "train"), codes[0])  # swapped: still three different
    assert all(np.array_equal(p.numpy(), q) for p, q in zip(m.decoder.parameters(), decoders[1]))
    assert all(np.array_equal(p.numpy(), q) for p, q in zip(m.autoencoders()[1][1].parameters(), decoders[0]))
    fit = fit_gmm(codes[1], 4, "diagonal", 2)
    assert np.allclose(m.prior_mean.numpy(), fit.means, atol=1e-5)  # the prior from the chosen codes' fit
    with pytest.raises(ValueError, match="pretrain_restarts"):
        small_vade(pretrain_restarts=0)


def test_responsibilities_are_the_posterior_of_the_fitted_mixture():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.standard_normal((100, 2)), rng.standard_normal((100, 2)) + 3])
    fit = fit_gmm(x, 2, "full", 2)
    joint = np.stack([w * multivariate_normal(mu, cov).pdf(x)
                      for w, mu, cov in zip(fit.weights, fit.means, fit.covariances)], 1)
    assert np.allclose(responsibilities(x, fit), joint / joint.sum(1, keepdims=True), atol=1e-8)
