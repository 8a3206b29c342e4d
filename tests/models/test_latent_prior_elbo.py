"""The prior-ELBO VAE (models/latent/prior_elbo.py): with a constant discriminator the learned prior is
N(0, I) and the objective is the VAE's; the normalised prior p_T removes any constant in T; each phase
updates its own parameters; the evaluated bound sits below the importance-sampled likelihood."""
from __future__ import annotations

import numpy as np
import pytest

import minigen as mg
import minigen.models as models
from minigen.models.latent.vae import VAE, standard_normal_like


def small(**kw):
    mg.manual_seed(0)
    return models.create("prior-elbo-vae", **{"hidden": 16, "latent": 3, "d_hidden": [8], "z_samples": 5000, "eval_k": 100,
                                              **kw})


def constant_discriminator(model, c: float) -> None:
    last = model.discriminator.net[-1]
    last.weight.data = np.zeros_like(last.weight.data)
    last.bias.data = np.full_like(last.bias.data, c)


def test_a_constant_ratio_gives_the_gaussian_prior_and_the_vae_objective():
    m = small()
    constant_discriminator(m, 0.7)
    z = mg.randn(6, 3)
    with mg.no_grad():
        assert m.log_normalizer() == pytest.approx(0.7, abs=1e-5)
        np.testing.assert_allclose(m.log_prior(z).numpy(),
                                   standard_normal_like(z).log_prob(z).sum(axis=-1).numpy(), rtol=1e-5, atol=1e-5)
        x = m.eval_batch("test")[:8]
        mg.manual_seed(1)
        recon, kl = m.elbo_terms(x)
        mg.manual_seed(1)
        vae_recon, vae_kl = VAE.elbo_terms(m, x)
    np.testing.assert_allclose(recon.numpy(), vae_recon.numpy(), rtol=1e-5)
    np.testing.assert_allclose(kl.numpy(), vae_kl.numpy(), rtol=1e-4, atol=1e-4)


def test_each_phase_updates_its_own_parameters():
    m = small()
    opts = m.configure_optimizers()
    before = {k: v.numpy().copy() for k, v in m.state_dict().items()}
    logs = m.train_step(m.eval_batch("train")[:16], opts, 0)
    assert {"d_loss", "elbo_dr", "t_mean"} <= set(logs)
    changed = {k.split(".")[0] for k in before if not np.array_equal(before[k], m.state_dict()[k].numpy())}
    assert changed == {"encoder", "decoder", "discriminator"}
    vae_params = {id(p) for p in opts[0].param_groups[0]["params"]}
    assert not any(id(p) in vae_params for p in m.discriminator.parameters())


def test_the_bound_is_below_the_importance_sampled_likelihood_and_samples_have_the_right_shape():
    m = small()
    opts = m.configure_optimizers()
    for step, batch in zip(range(30), m.loader("train", batch_size=32)):
        m.train_step(batch, opts, step)
    out = m.metrics("test")
    assert out["test_elbo"] < -out["iwae_nll"]
    assert out["test_elbo"] - out["test_elbo_dr"] == pytest.approx(-out["prior_log_z"], abs=0.5)
    assert tuple(m.sample(5).shape) == (5, 1, 8, 8)
