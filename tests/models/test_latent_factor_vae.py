"""FactorVAE (models/latent/factor_vae.py) and the VAE family on shapes: permuted codes keep each marginal
and break the dependence, the discriminator on codes against permuted codes recovers the total correlation
of a correlated Gaussian, each phase updates its own parameters, and beta-VAE trains on shapes."""
from __future__ import annotations

import numpy as np
import pytest

import minigen as mg
import minigen.models as models
from minigen import optim
from minigen.models.latent.density_ratio import DensityRatioEstimator
from minigen.models.latent.factor_vae import permute_dims


def test_permute_dims_keeps_marginals_and_breaks_dependence():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((500, 3)).astype(np.float32)
    z[:, 1] = z[:, 0]
    p = permute_dims(mg.tensor(z), rng).numpy()
    for j in range(3):
        np.testing.assert_array_equal(np.sort(p[:, j]), np.sort(z[:, j]))
    assert abs(np.corrcoef(p[:, 0], p[:, 1])[0, 1]) < 0.15


def test_the_discriminator_estimates_the_total_correlation():
    rho, rng = 0.8, np.random.default_rng(1)
    mg.manual_seed(0)
    t = DensityRatioEstimator(2, hidden=(32, 32))
    opt = optim.Adam(t.parameters(), lr=3e-3)
    cov = np.array([[1, rho], [rho, 1]])
    for _ in range(500):
        a, b = (rng.multivariate_normal([0, 0], cov, 256).astype(np.float32) for _ in range(2))
        opt.zero_grad()
        t.loss(mg.tensor(a), permute_dims(mg.tensor(b), rng)).backward()
        opt.step()
    z = rng.multivariate_normal([0, 0], cov, 4000).astype(np.float32)
    with mg.no_grad():
        tc = float(t(mg.tensor(z)).numpy().mean())
    assert tc == pytest.approx(-0.5 * np.log(1 - rho ** 2), abs=0.1)


def test_factor_vae_updates_the_vae_and_the_discriminator_and_logs_tc():
    mg.manual_seed(0)
    m = models.create("factor-vae", data="shapes", hidden=16, d_hidden=[8])
    opts = m.configure_optimizers()
    before = {k: v.numpy().copy() for k, v in m.state_dict().items()}
    logs = m.train_step(next(iter(m.loader("train", batch_size=16))), opts, 0)
    assert {"tc", "d_loss", "kl", "recon"} <= set(logs)
    changed = {k.split(".")[0] for k in before if not np.array_equal(before[k], m.state_dict()[k].numpy())}
    assert changed == {"encoder", "decoder", "discriminator"}


def test_beta_vae_trains_on_shapes():
    mg.manual_seed(0)
    m = models.create("beta-vae", data="shapes", hidden=16, eval_k=4)
    opts = m.configure_optimizers()
    batch = next(iter(m.loader("train", batch_size=8)))
    assert tuple(batch.shape) == (8, 1, 20, 20)
    m.train_step(batch, opts, 0)
    assert tuple(m.sample(3).shape) == (3, 1, 20, 20)
    assert tuple(m.traversal(steps=4).shape) == (m.latent * 4, 1, 20, 20)
    with pytest.raises(ValueError, match="binary"):
        models.create("beta-vae", data="shapes", likelihood="gaussian")


def test_factor_vae_defaults_to_shapes_in_the_registry_and_the_cli():
    cls = models.model_class("factor-vae")
    assert cls.default_data() == "shapes"  # `minigen train factor-vae` without --data
    m = models.create("factor-vae", hidden=8, d_hidden=[8])
    assert m.data_name == "shapes" and tuple(m.eval_batch("test").shape[1:]) == (1, 20, 20)
    with pytest.raises(ValueError, match="shapes"):
        models.create("factor-vae", data="digits")
