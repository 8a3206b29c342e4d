"""VaDE's consensus initialisation (models/latent/vade.py, restart_choice="consensus"): the cluster ensemble
(models/evaluation/clustering.py consensus_clusters), the EM fit started from given clusters
(models/latent/gaussian_mixture.py fit_gmm_from_clusters), and the model's choice of autoencoder and prior."""
from __future__ import annotations

import numpy as np
import pytest

import minigen as mg
from minigen import models
from minigen.models.evaluation.clustering import cluster_acc, consensus_clusters
from minigen.models.latent.gaussian_mixture import fit_gmm_from_clusters


def small_vade(**kw):
    mg.manual_seed(0)
    return models.create("vade", **{"hidden": 16, "latent": 3, "clusters": 4, "pretrain_steps": 2, "gmm_restarts": 2,
                                    **kw})


def test_consensus_recovers_the_partition_most_clusterings_share():
    rng = np.random.default_rng(0)
    truth = np.repeat(np.arange(4), 25)
    relabel = [rng.permutation(4) for _ in range(4)]
    runs = [p[truth] for p in relabel]  # the same partition under other cluster numbers
    for run in runs[:2]:  # two of them with 10 points each put elsewhere, not the same ones
        wrong = rng.choice(100, 10, replace=False)
        run[wrong] = (run[wrong] + 1) % 4
    consensus = consensus_clusters(runs, 4)
    assert cluster_acc(truth, consensus) == 1.0
    assert all(cluster_acc(truth, run) < 1.0 for run in runs[:2])


def test_em_from_clusters_starts_at_their_moments_and_climbs():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.standard_normal((60, 2)), rng.standard_normal((40, 2)) * 0.5 + 4])
    clusters = np.repeat([1, 0], [60, 40])
    clusters[:5] = 0  # a few start in the wrong cluster
    start = fit_gmm_from_clusters(x, clusters, 2, "full", iterations=0)
    assert np.allclose(start.weights, [45 / 100, 55 / 100])
    assert np.allclose(start.means[0], x[clusters == 0].mean(0)) and np.allclose(start.means[1], x[clusters == 1].mean(0))
    assert np.allclose(start.covariances[1], np.cov(x[clusters == 1].T, bias=True) + np.diag(1e-4 * x.var(0) + 1e-12))
    fitted = fit_gmm_from_clusters(x, clusters, 2, "full")
    assert fitted.log_likelihood > start.log_likelihood
    nearest = np.linalg.norm(x[:, None] - fitted.means[None], axis=-1).argmin(1)
    assert cluster_acc(np.repeat([1, 0], [60, 40]), nearest) == 1.0  # EM moved the five back
    with pytest.raises(ValueError, match="cluster indices"):
        fit_gmm_from_clusters(x, clusters[:10], 2)
    with pytest.raises(ValueError, match="cluster indices"):
        fit_gmm_from_clusters(x, clusters + 1, 2)


def test_consensus_choice_keeps_the_most_agreeing_autoencoder_and_fits_from_the_consensus(monkeypatch):
    import minigen.models.latent.vade as vade_module

    m = small_vade(pretrain_restarts=3, restart_choice="consensus")
    codes = [m._codes_of(encoder, "train") for encoder, _ in m.autoencoders()]
    n = len(codes[0])
    rng = np.random.default_rng(0)
    shared = np.arange(n) % 4
    noisy = shared.copy()
    noisy[rng.choice(n, n // 3, replace=False)] = rng.integers(0, 4, n // 3)
    runs = [noisy, (shared + 1) % 4, shared.copy()]  # runs 1 and 2 agree; run 2 is the surest below
    runs[2][:n // 10] = (runs[2][:n // 10] + 2) % 4
    sure = [0.5, 0.6, 0.9]
    fake = iter([np.eye(4)[r] * s + (1 - s) / 4 for r, s in zip(runs, sure)])
    monkeypatch.setattr(vade_module, "responsibilities", lambda c, fit: next(fake))
    m.init_prior_from_codes()
    consensus = consensus_clusters(runs, 4)
    assert cluster_acc(shared, consensus) > 0.95
    agreement = [cluster_acc(consensus, r) for r in runs]
    assert m.pretrain_choice["agreement"] == agreement and int(np.argmax(agreement)) == 1
    assert m.pretrain_choice["chosen"] == 1  # agrees with the consensus most, though not the surest
    assert m.pretrain_choice["sureness"] == pytest.approx([s + (1 - s) / 4 for s in sure])
    assert np.allclose(m.codes("train"), codes[1])
    fit = fit_gmm_from_clusters(codes[1], consensus, 4, "diagonal")
    assert np.allclose(m.prior_mean.numpy(), fit.means, atol=1e-5)
    assert np.allclose(m.pi_logits.numpy(), np.log(fit.weights), atol=1e-5)
    with pytest.raises(ValueError, match="restart_choice"):
        small_vade(restart_choice="vote")
