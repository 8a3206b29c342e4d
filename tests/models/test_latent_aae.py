"""The adversarial autoencoder (models/latent/aae.py) and the MMD statistic (models/evaluation/mmd.py): the
mixture prior's density against SciPy, labels mapped to their own components, which parameters each phase
updates, and the MMD's behaviour on equal and on different distributions."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal

import minigen as mg
import minigen.models as models
from minigen.models.evaluation.mmd import mmd2
from minigen.models.latent.aae import RADIAL_SD, RADIUS, TANGENT_SD, mixture10_log_density, mixture10_sample


def test_mixture10_density_matches_scipy():
    z = np.random.default_rng(0).normal(0, 3, (50, 2)).astype(np.float32)
    dens = np.zeros(50)
    for k in range(10):
        a = 2 * np.pi * k / 10
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        cov = rot @ np.diag([RADIAL_SD ** 2, TANGENT_SD ** 2]) @ rot.T
        dens += multivariate_normal(RADIUS * rot[:, 0], cov).pdf(z) / 10
    with mg.no_grad():
        got = mixture10_log_density(mg.tensor(z)).numpy()
    np.testing.assert_allclose(got, np.log(dens), rtol=1e-4, atol=1e-3)


def test_each_label_gets_its_own_component():
    labels = np.arange(200) % 10
    z = mixture10_sample(labels, np.random.default_rng(1))
    angle = np.arctan2(z[:, 1], z[:, 0]) % (2 * np.pi)
    nearest = np.rint(angle / (2 * np.pi / 10)).astype(int) % 10
    assert (nearest == labels).all()
    model = models.create("aae", prior="mixture10", labels=True, hidden=16)
    assert model.conditional
    with pytest.raises(TypeError, match="aae"):
        model.sample(3)


def test_the_two_phases_update_their_own_parameters():
    mg.manual_seed(0)
    model = models.create("aae", hidden=16)
    opts = model.configure_optimizers()
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    batch = next(iter(model.loader("train", batch_size=16)))
    logs = model.train_step(batch, opts, 0)
    assert {"d_loss", "adv", "recon"} <= set(logs)
    after = model.state_dict()
    changed = {k.split(".")[0] for k in before if not np.array_equal(before[k], after[k].numpy())}
    assert changed == {"encoder", "decoder", "discriminator"}


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="mixture10"):
        models.create("aae", prior="gaussian", labels=True)
    with pytest.raises(ValueError, match="2-D"):
        models.create("aae", prior="swissroll", latent=3)
    with pytest.raises(ValueError, match="kl"):
        models.create("aae", prior="mixture10", regularizer="kl")


def test_mmd_is_near_zero_for_one_distribution_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((400, 2)), rng.standard_normal((400, 2))
    same = mmd2(a, b)
    assert abs(same) < 0.01
    shifts = [mmd2(a + [s, 0], b) for s in (0.25, 0.5, 1.0)]
    assert same < shifts[0] < shifts[1] < shifts[2]
    with pytest.raises(ValueError, match="mmd2"):
        mmd2(a, b[:, :1])
