"""minigen.distributions: densities against SciPy/NumPy, closed-form KLs against Monte Carlo, the
reparameterized gradient against its closed form, Gumbel-max and Gumbel-softmax sampling."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st
from scipy import integrate, stats

import minigen as mg
from minigen import distributions as D
from minigen.testing import gradcheck
from minigen.testing import strategies as mst


def t(a, requires_grad=False):
    return mg.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


# ---------------------------------------------------------------------------------------- densities

@given(mst.arrays(shape=mst.shapes(1, 2)), st.integers(0, 2**16))
def test_normal_log_prob_entropy_match_scipy(loc, seed):
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.3, 2.0, loc.shape)
    x = rng.standard_normal(loc.shape)
    d = D.Normal(t(loc), t(scale))
    np.testing.assert_allclose(d.log_prob(t(x)).numpy(), stats.norm.logpdf(x, loc, scale), rtol=1e-10)
    np.testing.assert_allclose(d.entropy().numpy(), stats.norm.entropy(loc, scale), rtol=1e-10)
    np.testing.assert_allclose(d.cdf(t(x)).numpy(), stats.norm.cdf(x, loc, scale), rtol=1e-6)


@given(mst.arrays(shape=mst.shapes(1, 2)), st.integers(0, 2**16))
def test_bernoulli_logits_and_probs_agree_with_numpy(logits, seed):
    x = np.random.default_rng(seed).integers(0, 2, logits.shape).astype(np.float64)
    p = 1 / (1 + np.exp(-logits))
    expected = x * np.log(p) + (1 - x) * np.log1p(-p)
    for d in (D.Bernoulli(logits=t(logits)), D.Bernoulli(probs=t(p))):
        np.testing.assert_allclose(d.log_prob(t(x)).numpy(), expected, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(d.entropy().numpy(), -(p * np.log(p) + (1 - p) * np.log1p(-p)), rtol=1e-6)
        np.testing.assert_allclose(d.mean.numpy(), p, rtol=1e-9)


@given(mst.arrays(shape=mst.shapes(1, 2, min_side=2)), st.integers(0, 2**16))
def test_categorical_log_prob_entropy(logits, seed):
    k = logits.shape[-1]
    v = np.random.default_rng(seed).integers(0, k, logits.shape[:-1])
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    d = D.Categorical(logits=t(logits))
    np.testing.assert_allclose(d.log_prob(v).numpy(), np.take_along_axis(logp, v[..., None], -1)[..., 0],
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(d.entropy().numpy(), -(np.exp(logp) * logp).sum(-1), rtol=1e-9, atol=1e-12)
    d2 = D.Categorical(probs=t(np.exp(logp) * 3.0))  # unnormalized probs are normalized, as in torch
    np.testing.assert_allclose(d2.logits.numpy(), logp, rtol=1e-9, atol=1e-12)


@given(mst.tensors(shape=(3,)), mst.tensors(shape=(3,), domain="positive"))
def test_normal_log_prob_gradcheck(loc, scale):
    x = t([0.3, -1.2, 2.0])
    assert gradcheck(lambda m, s: D.Normal(m, s).log_prob(x), [loc, scale])
    assert gradcheck(lambda m, s: D.kl_divergence(D.Normal(m, s), D.Normal(0.5, 1.5)), [loc, scale])


@given(mst.tensors(shape=(2, 3)), mst.tensors(shape=(2, 3)))
def test_discrete_kl_and_entropy_gradcheck(a, b):
    assert gradcheck(lambda p, q: D.kl_divergence(D.Categorical(logits=p), D.Categorical(logits=q)), [a, b])
    assert gradcheck(lambda p, q: D.kl_divergence(D.Bernoulli(logits=p), D.Bernoulli(logits=q)), [a, b])
    assert gradcheck(lambda p: D.Bernoulli(logits=p).entropy() + D.Categorical(logits=p).entropy().sum(),
                     [a])


# -------------------------------------------------------------------------- KL against Monte Carlo

@pytest.mark.parametrize("seed", [0, 1])
def test_normal_kl_matches_monte_carlo(seed):
    rng = np.random.default_rng(seed)
    mp, mq = rng.standard_normal(4), rng.standard_normal(4)
    sp, sq = rng.uniform(0.4, 2.0, 4), rng.uniform(0.4, 2.0, 4)
    p, q = D.Normal(t(mp), t(sp)), D.Normal(t(mq), t(sq))
    kl = D.kl_divergence(p, q).numpy()
    mg.manual_seed(seed)
    z = p.sample((200_000,))
    terms = (p.log_prob(z) - q.log_prob(z)).numpy()
    se = terms.std(0) / math.sqrt(len(terms))
    assert np.all(np.abs(terms.mean(0) - kl) < 5 * se + 1e-9), (terms.mean(0), kl)
    assert np.all(kl >= 0)
    np.testing.assert_allclose(D.kl_divergence(p, p).numpy(), 0, atol=1e-12)
    # KL(p || q) is not symmetric: the sign and the argument order both matter
    assert not np.allclose(kl, D.kl_divergence(q, p).numpy())


def test_standard_normal_kl_is_the_vae_formula():
    """KL(N(mu, s^2) || N(0, 1)) = 1/2 (mu^2 + s^2 - 1 - log s^2): the term every VAE uses."""
    mu, s = np.array([0.0, 1.5, -0.7]), np.array([1.0, 0.3, 2.2])
    kl = D.kl_divergence(D.Normal(t(mu), t(s)), D.Normal(0.0, 1.0)).numpy()
    np.testing.assert_allclose(kl, 0.5 * (mu**2 + s**2 - 1 - np.log(s**2)), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("family", ["bernoulli", "categorical"])
def test_discrete_kl_matches_monte_carlo_and_enumeration(family):
    rng = np.random.default_rng(3)
    if family == "bernoulli":
        a, b = rng.standard_normal(5), rng.standard_normal(5)
        p, q = D.Bernoulli(logits=t(a)), D.Bernoulli(logits=t(b))
        support = [t(np.zeros(5)), t(np.ones(5))]
    else:
        a, b = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
        p, q = D.Categorical(logits=t(a)), D.Categorical(logits=t(b))
        support = [np.full(2, k) for k in range(4)]
    kl = D.kl_divergence(p, q).numpy()
    exact = sum(np.exp(p.log_prob(v).numpy()) * (p.log_prob(v) - q.log_prob(v)).numpy() for v in support)
    np.testing.assert_allclose(kl, exact, rtol=1e-10, atol=1e-12)
    mg.manual_seed(0)
    x = p.sample((100_000,))
    terms = (p.log_prob(x) - q.log_prob(x)).numpy()
    assert np.all(np.abs(terms.mean(0) - kl) < 5 * terms.std(0) / math.sqrt(len(terms)) + 1e-9)


# ------------------------------------------------------------------------ reparameterized gradients

def test_reparameterized_gradient_of_quadratic_matches_closed_form():
    """E[c (z - a)^2] for z ~ N(mu, s^2) is c((mu - a)^2 + s^2): gradient 2c(mu - a) and 2cs."""
    mu, s = t([0.5, -1.0, 2.0], True), t([0.8, 1.3, 0.4], True)
    a, c = np.array([1.0, 0.0, -0.5]), np.array([1.0, 2.0, 0.5])
    mg.manual_seed(0)
    n = 100_000
    z = D.Normal(mu, s).rsample((n,))
    ((t(c) * (z - t(a)) ** 2).sum() / n).backward()
    se_mu = 2 * c * s.numpy() / math.sqrt(n)  # sd of 2c(z - a) around its mean, per sample: 2cs
    se_s = 2 * c * np.sqrt(s.numpy() ** 2 * 2 + (mu.numpy() - a) ** 2) / math.sqrt(n)
    np.testing.assert_allclose(mu.grad.numpy(), 2 * c * (mu.numpy() - a), atol=float(5 * se_mu.max()))
    np.testing.assert_allclose(s.grad.numpy(), 2 * c * s.numpy(), atol=float(5 * se_s.max()))


@given(mst.tensors(shape=(2, 3)), mst.tensors(shape=(2, 3), domain="positive"))
def test_rsample_gradcheck_with_fixed_noise(loc, scale):
    def f(m, s):
        mg.manual_seed(7)
        return D.Normal(m, s).rsample((2,))
    assert gradcheck(f, [loc, scale])


@given(mst.tensors(shape=(2, 3)))
def test_relaxed_rsample_gradcheck_with_fixed_noise(logits):
    def f(lg):
        mg.manual_seed(3)
        return D.RelaxedOneHotCategorical(0.7, logits=lg).rsample((2,))
    assert gradcheck(f, [logits])


def test_non_reparameterizable_families_refuse_rsample():
    with pytest.raises(NotImplementedError, match="Bernoulli has no reparameterized sampler"):
        D.Bernoulli(logits=t([0.0])).rsample()
    with pytest.raises(NotImplementedError, match="Categorical"):
        D.Categorical(logits=t([0.0, 1.0])).rsample()


# ------------------------------------------------------------------------ Gumbel-max / Gumbel-softmax

def _chi2_pvalue(counts, probs):
    return stats.chisquare(counts, probs * counts.sum()).pvalue


def test_gumbel_max_sampling_matches_categorical_frequencies():
    probs = np.array([0.05, 0.15, 0.3, 0.5])
    mg.manual_seed(1)
    idx = D.gumbel_max(t(np.broadcast_to(np.log(probs), (20_000, 4)))).numpy()
    assert _chi2_pvalue(np.bincount(idx, minlength=4), probs) > 1e-3
    x = D.Categorical(probs=t(probs)).sample((20_000,)).numpy()
    assert x.shape == (20_000,) and x.dtype.kind == "i"
    assert _chi2_pvalue(np.bincount(x, minlength=4), probs) > 1e-3
    oh = D.OneHotCategorical(probs=t(probs)).sample((10,)).numpy()
    assert oh.shape == (10, 4) and np.all(oh.sum(-1) == 1)


def test_gumbel_softmax_approaches_one_hot_with_categorical_frequencies():
    probs = np.array([0.1, 0.2, 0.7])
    logits = t(np.log(probs))
    mean_max = []
    for tau in (5.0, 1.0, 0.1, 0.01):
        mg.manual_seed(2)
        y = D.RelaxedOneHotCategorical(tau, logits=logits).rsample((20_000,)).numpy()
        np.testing.assert_allclose(y.sum(-1), 1, atol=1e-6)
        mean_max.append(y.max(-1).mean())
    assert all(a < b for a, b in zip(mean_max, mean_max[1:])), mean_max
    assert mean_max[-1] > 0.99
    # argmax of a Gumbel-softmax sample is exactly a categorical sample at any temperature
    assert _chi2_pvalue(np.bincount(y.argmax(-1), minlength=3), probs) > 1e-3
    # and at low temperature the relaxed sample itself is (almost) that one-hot vector
    np.testing.assert_allclose(y.mean(0), probs, atol=0.015)


@pytest.mark.parametrize("tau", [0.5, 1.0, 2.0])
def test_concrete_density_integrates_to_one(tau):
    """The Concrete log_prob is a density on the simplex: for K = 2 it integrates to 1 over y_1."""
    d = D.RelaxedOneHotCategorical(tau, logits=t(np.array([0.3, -0.8])))
    total, err = integrate.quad(lambda y1: math.exp(d.log_prob(t([y1, 1 - y1])).item()), 0, 1, limit=200)
    assert abs(total - 1) < 1e-4


def test_concrete_density_on_three_classes_integrates_to_one():
    logits = t(np.array([0.5, -0.2, 0.1]))
    g = (np.arange(800) + 0.5) / 800  # midpoint rule over the triangle y1 + y2 < 1
    y1, y2 = np.meshgrid(g, g, indexing="ij")
    keep = y1 + y2 < 1
    y = np.stack([y1[keep], y2[keep], 1 - y1[keep] - y2[keep]], -1)
    dens = np.exp(D.RelaxedOneHotCategorical(1.5, logits=logits).log_prob(t(y)).numpy())
    assert abs(dens.sum() / 800**2 - 1) < 0.02


# ------------------------------------------------------------------------------------- shapes/errors

def test_sample_shapes_and_dtypes_follow_torch():
    d = D.Normal(mg.zeros(2, 3), 1.0)
    assert d.batch_shape == (2, 3) and d.rsample((4,)).shape == (4, 2, 3) and d.sample().dtype == np.float32
    assert D.Bernoulli(logits=mg.zeros(5)).sample((2,)).shape == (2, 5)
    c = D.Categorical(logits=mg.zeros(2, 3))
    assert c.batch_shape == (2,) and c.sample((4,)).shape == (4, 2)
    r = D.RelaxedOneHotCategorical(1.0, logits=mg.zeros(2, 3))
    assert r.event_shape == (3,) and r.rsample((4,)).shape == (4, 2, 3)
    assert not d.sample().requires_grad


def test_errors_name_the_distribution():
    with pytest.raises(ValueError, match="Bernoulli: give exactly one"):
        D.Bernoulli(probs=t([0.5]), logits=t([0.0]))
    with pytest.raises(ValueError, match="Categorical: give exactly one"):
        D.Categorical()
    with pytest.raises(ValueError, match="temperature must be positive"):
        D.RelaxedOneHotCategorical(0.0, logits=t([0.0, 1.0]))
    with pytest.raises(TypeError, match="integer class indices"):
        D.Categorical(logits=t([0.0, 1.0])).log_prob(t([0.5]))
    with pytest.raises(NotImplementedError, match="no closed form registered for Normal || Bernoulli"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Bernoulli(logits=t([0.0])))
