"""NADE and RNADE: the O(HD) pre-activations against the naive sum (F.cumsum itself is an op, tested in
tests/ops/test_reduction.py), the autoregressive property, exact normalisation (enumeration for NADE,
quadrature for RNADE), samplers against likelihoods, completion, RNADE's mixture against NumPy, mode
coverage through toy_coverage, and short training runs."""
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigen as mg
import minigen.models as models
from minigen.data.toys import N_COVERAGE_SAMPLES, toy_coverage
from minigen.models.autoregressive.nade import NADE, RNADE, shared_preactivations
from test_baselines import randomize  # shared helper (tests/models is on sys.path)


def strictly_before(n: int) -> np.ndarray:
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    return j < i


# ------------------------------------------------------------------------------- shared pre-activations

@given(seed=st.integers(0, 2 ** 16), h=st.integers(1, 5), n=st.integers(1, 7))
def test_shared_preactivations_match_the_naive_sum(seed, h, n):
    rng = np.random.default_rng(seed)
    x, w, c = rng.standard_normal((3, n)), rng.standard_normal((h, n)), rng.standard_normal(h)
    naive = np.stack([c + x[:, :d] @ w[:, :d].T for d in range(n)], axis=0)
    out = shared_preactivations(mg.tensor(x), mg.tensor(w), mg.tensor(c)).numpy()
    np.testing.assert_allclose(out, naive, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------------------------- NADE

def test_nade_conditional_i_depends_exactly_on_earlier_pixels():
    model = randomize(NADE(hidden=7), seed=1)
    x = mg.tensor(np.random.default_rng(0).integers(0, 2, (4, 1, 8, 8)).astype(np.float64))
    np.testing.assert_array_equal(model.dependence(x), strictly_before(64))


def test_nade_probabilities_of_all_images_sum_to_one():
    model = randomize(NADE(hidden=6, event_shape=(1, 2, 5)), seed=2)
    images = mg.tensor(np.array(list(itertools.product([0.0, 1.0], repeat=10))).reshape(-1, 1, 2, 5))
    log_p = model.log_prob(images).numpy()
    assert abs(np.logaddexp.reduce(log_p)) < 1e-10
    terms = model.log_prob(images, reduce=False)
    assert terms.shape == images.shape
    np.testing.assert_allclose(terms.numpy().reshape(1024, -1).sum(1), log_p, rtol=1e-12)


def test_nade_matches_the_papers_formula():
    """p(x_d = 1 | x_<d) = sigmoid(b_d + V_d . sigmoid(c + W[:, :d] x_:d)), one conditional at a time."""
    model = randomize(NADE(hidden=5, event_shape=(6,)), seed=4)
    x = np.random.default_rng(4).integers(0, 2, (3, 6)).astype(np.float64)
    W, c, V, b = (p.numpy() for p in (model.W, model.c, model.V, model.b))
    sig = lambda a: 1 / (1 + np.exp(-a))
    p1 = np.stack([sig(b[d] + sig(c + x[:, :d] @ W[:, :d].T) @ V[d]) for d in range(6)], axis=1)
    expected = np.log(np.where(x == 1, p1, 1 - p1))
    np.testing.assert_allclose(model.log_prob(mg.tensor(x), reduce=False).numpy(), expected, rtol=1e-10)


def test_nade_cached_sampler_draws_from_the_model():
    mg.manual_seed(0)
    model = randomize(NADE(hidden=4, event_shape=(3,)), seed=6)
    images = mg.tensor(np.array(list(itertools.product([0.0, 1.0], repeat=3))))
    p = np.exp(model.log_prob(images).numpy())
    draws = model.sample(20000).numpy()
    freq = np.bincount((draws * [4, 2, 1]).sum(1).astype(int), minlength=8) / 20000
    np.testing.assert_allclose(freq, p, atol=0.02)


def test_nade_completion_samples_the_bottom_given_the_top():
    """Completing with the top half observed: kept pixels unchanged; the conditional frequency of the
    last pixel given the rest matches exp(log_prob) ratios."""
    mg.manual_seed(1)
    model = randomize(NADE(hidden=4, event_shape=(1, 2, 2)), seed=7)
    top = np.array([1.0, 0.0])
    x = np.zeros((20000, 1, 2, 2))
    x[:, 0, 0] = top
    observed = np.array([[[1, 1], [0, 0]]])
    out = model.complete(mg.tensor(x), observed).numpy()
    np.testing.assert_array_equal(out[:, 0, 0], np.broadcast_to(top, (20000, 2)))
    bottoms = np.array(list(itertools.product([0.0, 1.0], repeat=2)))
    full = mg.tensor(np.concatenate([np.broadcast_to(top, (4, 2)), bottoms], 1).reshape(4, 1, 2, 2))
    p = np.exp(model.log_prob(full).numpy())
    freq = np.bincount((out[:, 0, 1] * [2, 1]).sum(1).astype(int), minlength=4) / 20000
    np.testing.assert_allclose(freq, p / p.sum(), atol=0.02)


def test_nade_training_lowers_the_loss():
    mg.manual_seed(0)
    model = models.create("nade", hidden=20, lr=1e-2)
    opt = model.configure_optimizers()
    batch = next(iter(model.loader("train", batch_size=64)))
    first = model.train_step(batch, opt, 0)["loss"]
    for step in range(1, 31):
        last = model.train_step(batch, opt, step)["loss"]
    assert last < first - 3.0
    assert model.metrics()["num_params"] == 2 * 20 * 64 + 20 + 64


# -------------------------------------------------------------------------------------------- RNADE

def rnade_params_numpy(model, z):
    """[logit pi, mu, log sigma] per conditional, written out one pixel at a time."""
    W, c, rho, V, b = (p.numpy() for p in (model.W, model.c, model.rho, model.V, model.b))
    out = [np.maximum(rho[d] * (c + z[:, :d] @ W[:, :d].T), 0) @ V[d] + b[d] for d in range(model.dims)]
    return np.stack(out, axis=1)


def test_rnade_conditional_i_depends_exactly_on_earlier_dimensions():
    model = randomize(RNADE(data="moons", hidden=6, components=2, event_shape=(7,)), seed=3)
    model.c.data = np.abs(model.c.data) + 1  # active ReLUs, so every earlier input shows through
    model.rho.data = np.abs(model.rho.data) + 0.1
    x = mg.tensor(np.random.default_rng(0).normal(0, 0.1, (5, 7)))
    np.testing.assert_array_equal(model.dependence(x), strictly_before(7))


def test_rnade_log_density_matches_numpy_and_dequantization_jacobian():
    model = randomize(RNADE(hidden=5, components=3), seed=8, scale=0.3)
    y = np.random.default_rng(8).uniform(0, 17, (4, 1, 8, 8))
    z = ((y - model.SHIFT) / model.SCALE).reshape(4, 64)
    params = rnade_params_numpy(model, z)
    k = 3
    log_pi = params[..., :k] - np.logaddexp.reduce(params[..., :k], axis=-1, keepdims=True)
    mu, log_s = params[..., k:2 * k], np.clip(params[..., 2 * k:], -7, 5)
    comp = log_pi - 0.5 * ((z[..., None] - mu) / np.exp(log_s)) ** 2 - log_s - 0.5 * np.log(2 * np.pi)
    expected = np.logaddexp.reduce(comp, axis=-1) - np.log(model.SCALE)
    terms = model.log_prob(mg.tensor(y), reduce=False)
    assert terms.shape == y.shape
    np.testing.assert_allclose(terms.numpy().reshape(4, 64), expected, rtol=1e-9, atol=1e-9)


def test_rnade_density_integrates_to_one_in_2d():
    model = randomize(RNADE(data="ring8", hidden=6, components=3), seed=9, scale=0.3)
    grid = np.linspace(-15, 15, 601)
    xx, yy = np.meshgrid(grid, grid, indexing="ij")
    points = mg.tensor(np.stack([xx.ravel(), yy.ravel()], axis=1))
    density = np.exp(model.log_prob(points).numpy())
    step = grid[1] - grid[0]
    assert density.sum() * step * step == pytest.approx(1.0, abs=1e-6)


def test_rnade_sampler_matches_its_density_in_1d():
    """Histogram of 20,000 draws of a 1-D RNADE (a plain mixture) against its density."""
    mg.manual_seed(2)
    model = randomize(RNADE(data="moons", hidden=3, components=3, event_shape=(1,)), seed=10)
    draws = model.sample(20000).numpy().ravel()
    edges = np.linspace(-4, 4, 17)
    fine = np.linspace(-4, 4, 1601)
    dens = np.exp(model.log_prob(mg.tensor(fine[:, None])).numpy())
    expected = np.add.reduceat(dens[:-1] * (fine[1] - fine[0]), np.arange(0, 1600, 100))
    observed = np.histogram(draws, edges)[0] / 20000
    np.testing.assert_allclose(observed, expected, atol=0.015)


def test_rnade_trains_on_dequantized_digits_and_on_a_toy():
    mg.manual_seed(0)
    digits = models.create("rnade", hidden=16, components=3, lr=1e-2)
    opt = digits.configure_optimizers()
    batch = next(iter(digits.loader("train", batch_size=64)))
    assert set(np.unique(batch.numpy())) <= set(range(17))  # the 17 levels, dequantized in loss()
    first = digits.train_step(batch, opt, 0)["loss"]
    for step in range(1, 31):
        last = digits.train_step(batch, opt, step)["loss"]
    assert last < first - 5.0
    m = digits.metrics()
    assert math.isfinite(m["test_nll"]) and m["test_bpd"] == pytest.approx(m["test_nll"] / (64 * math.log(2)))
    levels = digits.sample(5).numpy()
    assert levels.shape == (5, 1, 8, 8) and set(np.unique(levels)) <= set(range(17))

    toy = models.create("rnade", data="ring8", hidden=16, components=4, lr=1e-2)
    opt = toy.configure_optimizers()
    batch = next(iter(toy.loader("train")))
    first = toy.train_step(batch, opt, 0)["loss"]
    for step in range(1, 31):
        last = toy.train_step(batch, opt, step)["loss"]
    assert last < first
    mg.manual_seed(3)
    m = toy.metrics()
    assert {"test_nll", "modes_ring8", "hq_ring8", "num_params"} <= set(m)
    assert toy.training  # metrics() measured in eval mode and restored the mode
    mg.manual_seed(3)  # the toy's log_prob draws nothing, so these are the samples metrics() measured
    with toy.evaluating():
        coverage = toy_coverage(toy.sample(N_COVERAGE_SAMPLES), "ring8")
    assert (m["modes_ring8"], m["hq_ring8"]) == (coverage.modes, coverage.hq_share)
    with pytest.raises(TypeError, match="unconditional"):
        toy.sample(3, y=[0, 1, 2])
