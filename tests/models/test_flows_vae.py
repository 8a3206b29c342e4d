"""iaf-vae and planar-vae: the one-pass log q(z|x) of the IAF posterior equals the change-of-variables density of z under
TransformedDistribution(N(mu, sigma^2), IAF steps) (computed through the D-pass inverse), and the bounds are
ordered (ELBO <= IWAE bound with k samples, on average)."""
import numpy as np
import pytest

import minigen as mg
import minigen.models as models
from minigen.distributions import ComposeTransform, TransformedDistribution


def small_model(name="iaf-vae"):
    mg.manual_seed(0)
    extra = {"flow_hidden": 16} if name == "iaf-vae" else {}
    model = models.create(name, hidden=32, latent=4, **extra).double()
    for p in model.flow.parameters():
        p.data = np.random.default_rng(0).normal(0, 0.3, p.shape)
    return model


@pytest.mark.parametrize("name", ["iaf-vae", "planar-vae"])
def test_one_pass_log_q_is_the_flow_density(name):
    model = small_model(name)
    x = model.eval_batch("test")[:5].astype(np.float64)
    obs = x.flatten(1)
    with model.evaluating():
        z, log_q = model.posterior_sample(obs)
        q0 = model.encode(obs)
        density = TransformedDistribution(q0, ComposeTransform(list(model.flow))).log_prob(z)
    np.testing.assert_allclose(log_q.numpy(), density.numpy(), rtol=1e-7, atol=1e-7)


def test_iwae_bound_is_above_the_elbo():
    model = small_model()
    x = model.eval_batch("test")[:50].astype(np.float64)
    with model.evaluating():
        elbo = model.iwae_bound(x, 1).numpy().mean()
        bound = model.iwae_bound(x, 64).numpy().mean()
    assert bound > elbo


def test_planar_vae_is_the_iaf_vae_with_planar_steps_that_keep_the_constraint():
    """planar_vae.PlanarVAE keeps iaf_vae.IAFVAE's bound and swaps the flow for planar steps whose
    u_hat . w >= -1 (Rezende & Mohamed's condition for invertibility) even from unconstrained parameters."""
    from minigen.models.flows.iaf_vae import IAFVAE
    from minigen.models.flows.planar import PlanarFlow
    from minigen.models.flows.planar_vae import PlanarVAE
    model = small_model("planar-vae")
    assert isinstance(model, PlanarVAE) and isinstance(model, IAFVAE)
    assert isinstance(small_model("iaf-vae"), IAFVAE) and not isinstance(small_model("iaf-vae"), PlanarVAE)
    planar = [step for step in model.flow if isinstance(step, PlanarFlow)]
    assert planar
    for step in planar:
        assert float((step.u_hat().numpy() * step.w.numpy()).sum()) >= -1 - 1e-9
