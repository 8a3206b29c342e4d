"""Ladder VAE: the precision-weighted merge is the normalized product of two Gaussians, the analytic
per-rung KLs agree with the sampled log-weights (Monte Carlo), KL warm-up from the trainer's step, ancestral
sampling, training."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigen as mg
import minigen.models as models
from minigen.distributions import Normal
from minigen.models.latent.ladder_vae import precision_merge

SMALL = {"latents": [6, 4, 2], "hidden": [32, 16, 8], "eval_k": 20, "warmup": 50}


def small(**kw):
    mg.manual_seed(0)
    return models.create("ladder-vae", **{**SMALL, **kw})


@given(st.integers(0, 2**16))
def test_precision_merge_is_the_normalized_product_of_gaussians(seed):
    rng = np.random.default_rng(seed)
    ma, mb, z = rng.standard_normal((3, 5))
    sa, sb = rng.uniform(0.2, 2.0, (2, 5))
    a, b = Normal(mg.tensor(ma), mg.tensor(sa)), Normal(mg.tensor(mb), mg.tensor(sb))
    m = precision_merge(a, b)
    # log N(z; m) - log N(z; a) - log N(z; b) does not depend on z
    diffs = [(m.log_prob(mg.tensor(v)) - a.log_prob(mg.tensor(v)) - b.log_prob(mg.tensor(v))).numpy()
             for v in (z, z + 1.3, -2 * z)]
    np.testing.assert_allclose(diffs[0], diffs[1], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(diffs[0], diffs[2], rtol=1e-9, atol=1e-9)
    var = 1 / (1 / sa**2 + 1 / sb**2)
    np.testing.assert_allclose(m.scale.numpy() ** 2, var, rtol=1e-12)
    np.testing.assert_allclose(m.loc.numpy(), var * (ma / sa**2 + mb / sb**2), rtol=1e-10, atol=1e-12)
    assert np.all(m.scale.numpy() < np.minimum(sa, sb))


def test_analytic_kls_agree_with_the_sampled_log_weights():
    """E_q[log w] (sampled log p - log q at every rung) equals the ELBO built from analytic KLs."""
    model = small().double()
    x = model.eval_batch("test")[:6].double()
    mg.manual_seed(1)
    log_w = model.log_weights(x, 4000).numpy()
    elbos = np.stack([model.elbo(x).numpy() for _ in range(400)])
    se = np.sqrt(log_w.var(0) / len(log_w) + elbos.var(0) / len(elbos))
    assert np.all(np.abs(log_w.mean(0) - elbos.mean(0)) < 5 * se), (log_w.mean(0), elbos.mean(0), se)
    assert log_w.shape == (4000, 6)


def test_kl_warmup_and_per_rung_logs():
    model = small(warmup=100)
    x = model.eval_batch("test")[:8]
    _, logs = model.objective(x, step=0)
    assert logs["beta"] == 0.0 and {"kl1", "kl2", "kl3"} <= set(logs)
    assert model.kl_weight(25) == pytest.approx(0.25) and model.kl_weight(1000) == 1.0
    assert model.kl_weight() == 1.0  # no step: warm-up over
    opts = model.configure_optimizers()
    assert [model.train_step(x, opts, step)["beta"] for step in (0, 25, 100, 5000)] == [0.0, 0.25, 1.0, 1.0]
    mg.manual_seed(2)
    recon, kl = model.elbo_terms(x)
    mg.manual_seed(2)
    loss, logs = model.objective(x)
    assert loss.item() == pytest.approx(-(recon - kl).numpy().mean(), rel=1e-5)
    assert sum(logs[f"kl{i}"].item() for i in (1, 2, 3)) == pytest.approx(kl.numpy().mean(), rel=1e-5)


def test_configuration_errors_and_sampling():
    with pytest.raises(ValueError, match="same, non-zero length"):
        small(latents=[4, 2], hidden=[8])
    model = small()
    assert model.sample(7).shape == (7, 1, 8, 8)
    assert set(np.unique(model.sample(3).numpy())) <= {0.0, 1.0}
    assert not set(np.unique(model.sample(3, mean=True).numpy())) <= {0.0, 1.0}  # pixel probabilities
    with pytest.raises(TypeError, match="ladder-vae is unconditional"):
        model.sample(3, y=[1, 2, 3])
    rungs = model.encode(model.eval_batch("test")[:2].flatten(1))  # q(z|x): the rungs, top (z_3) first
    assert [z.shape for z, _, _ in rungs] == [(2, 2), (2, 4), (2, 6)]
    assert model.reconstruct(model.eval_batch("test")[:2]).shape == (2, 1, 8, 8)
    one = small(latents=[4], hidden=[16])  # a single rung is a plain VAE
    assert one.elbo(one.eval_batch("test")[:3]).shape == (3,)


def test_short_training_raises_the_elbo_and_reports_metrics():
    model = small()
    opts = model.configure_optimizers()
    loader = model.loader("train", batch_size=32)
    elbos = []
    for _epoch in range(3):
        for batch in loader:
            elbos.append(model.train_step(batch, opts, len(elbos))["elbo"])
    assert np.mean(elbos[-15:]) > np.mean(elbos[:15]) + 2.0
    m = model.metrics("test")
    assert {"test_elbo", "iwae_nll", "active_units_z1", "active_units_z3"} <= set(m)
    assert m["iwae_nll"] < -m["test_elbo"] + 0.5 and math.isfinite(m["iwae_nll"])
