"""iaf-vae and planar-vae: the one-pass log q(z|x) of the flow posterior equals the change-of-variables
density of z under TransformedDistribution(N(mu, sigma^2), the flow for that x) (computed through the
inverse), the flow is amortised (the encoder's outputs for x change the steps: IAF's context h, planar's
per-example parameters), and the bounds are ordered (ELBO <= IWAE bound with k samples, on average)."""
import numpy as np
import pytest

import minigen as mg
import minigen.models as models
from minigen.distributions import ComposeTransform, TransformedDistribution

VARIANTS = [("iaf-vae", {}), ("iaf-vae", {"context": 0}), ("planar-vae", {}), ("planar-vae", {"radial": True}),
            ("planar-vae", {"amortized": False})]


def small_model(name="iaf-vae", **options):
    mg.manual_seed(0)
    extra = {"flow_hidden": 16} if name == "iaf-vae" else {}
    model = models.create(name, hidden=32, latent=4, **extra, **options).double()
    for p in model.flow.parameters():
        p.data = np.random.default_rng(0).normal(0, 0.3, p.shape)
    return model


@pytest.mark.parametrize("name,options", VARIANTS)
def test_one_pass_log_q_is_the_flow_density(name, options):
    model = small_model(name, **options)
    x = model.eval_batch("test")[:5].astype(np.float64)
    obs = x.flatten(1)
    with model.evaluating():
        z, log_q = model.posterior_sample(obs)
        q0, extra = model.encode_with_extra(obs)
        density = TransformedDistribution(q0, ComposeTransform(model.posterior_flow(extra, None))).log_prob(z)
    np.testing.assert_allclose(log_q.numpy(), density.numpy(), rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("name,options", [("iaf-vae", {}), ("planar-vae", {}), ("planar-vae", {"radial": True})])
def test_the_flow_is_amortised(name, options):
    """The encoder outputs the flow's context (IAF) or parameters (planar, radial) per example, as the papers
    do: they start independent of x (zero weights: the same flow for every image) and, once those weights
    move, the same z_0 through the flows of two different images lands in different places."""
    from minigen import nn

    model = small_model(name, **options)
    assert model.extra_outputs > 0
    obs = model.eval_batch("test")[:2].astype(np.float64).flatten(1)
    z0 = mg.tensor(np.zeros((2, model.latent)))

    def through_flows(draws=None):
        with model.evaluating():
            _, extra = model.encode_with_extra(obs)
            start = z0 if draws is None else mg.tensor(np.zeros((draws * 2, model.latent)))
            return ComposeTransform(model.posterior_flow(extra, draws)).forward(start).numpy()

    z = through_flows()
    np.testing.assert_allclose(z[0], z[1], atol=1e-12)
    last = [m for m in model.encoder.modules() if isinstance(m, nn.Linear)][-1]
    last.weight.data = np.random.default_rng(1).normal(0, 0.3, last.weight.shape)
    z = through_flows()
    assert np.abs(z[0] - z[1]).max() > 1e-4
    flat = through_flows(3).reshape(3, 2, model.latent)
    np.testing.assert_allclose(flat, np.broadcast_to(z, flat.shape), atol=1e-12)


def test_iwae_bound_is_above_the_elbo():
    model = small_model()
    x = model.eval_batch("test")[:50].astype(np.float64)
    with model.evaluating():
        elbo = model.iwae_bound(x, 1).numpy().mean()
        bound = model.iwae_bound(x, 64).numpy().mean()
    assert bound > elbo


def test_planar_vae_is_the_iaf_vae_with_planar_steps_that_keep_the_constraint():
    """planar_vae.PlanarVAE keeps iaf_vae.IAFVAE's bound and swaps the flow for planar steps whose
    u_hat . w >= -1 (Rezende & Mohamed's condition for invertibility) for every example's parameters."""
    from minigen.models.flows.iaf_vae import IAFVAE
    from minigen.models.flows.planar import AmortizedPlanar
    from minigen.models.flows.planar_vae import PlanarVAE
    model = small_model("planar-vae")
    assert isinstance(model, PlanarVAE) and isinstance(model, IAFVAE)
    assert not isinstance(small_model("iaf-vae"), PlanarVAE)
    obs = model.eval_batch("test")[:20].astype(np.float64).flatten(1)
    _, extra = model.encode_with_extra(obs)
    steps = model.posterior_flow(extra * 10, None)
    assert len(steps) == 8 and all(isinstance(s, AmortizedPlanar) for s in steps)
    for step in steps:
        w = step.params.numpy()[:, model.latent:2 * model.latent]
        assert np.all((step.u_hat().numpy() * w).sum(-1) >= -1 - 1e-9)


@pytest.mark.parametrize("name", ["iaf-vae", "planar-vae"])
def test_analytic_kl_keeps_the_bound(name):
    """log q_0(z_0) replaced by KL(q_0 || p) + log p(z_0) (analytic_kl): the per-image ELBO has the same mean
    over draws, within Monte Carlo error."""
    model = small_model(name)
    obs = model.eval_batch("test")[:1].astype(np.float64).flatten(1).expand((4000, 64))
    elbo = {}
    with model.evaluating():
        for flag in (False, True):
            recon, kl = model._log_joint_minus_q(obs, *model.posterior_sample(obs, analytic_kl=flag))
            elbo[flag] = (recon - kl).numpy()
    gap = abs(elbo[True].mean() - elbo[False].mean())
    assert gap < 4 * np.sqrt(elbo[False].var() / len(elbo[False]) + elbo[True].var() / len(elbo[True]))
