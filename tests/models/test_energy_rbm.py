"""The RBM (models/energy/rbm.py) and its partition function (models/energy/partition.py): the free energy
sums out h, log Z by enumeration from either layer, block Gibbs samples p(v), AIS matches the exact log Z of
a trained 12-visible RBM within its error bar, and CD / PCD updates raise the exact likelihood."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigen as mg
import minigen.models as models
from minigen.data import load_digits
from minigen.models.energy.partition import (ais_betas, ais_log_partition, binary_states, exact_log_partition,
                                             free_energy)
from minigen.models.energy.rbm import RBM


def random_rbm(rng, V: int, H: int, scale: float = 1.0):
    return scale * rng.standard_normal((V, H)), scale * rng.standard_normal(V), scale * rng.standard_normal(H)


def random_model(V: int, H: int, seed: int) -> tuple:
    """An RBM with V visible and H hidden units and N(0, 1) parameters, and the generator that drew them."""
    mg.manual_seed(0)
    model = RBM(event_shape=(V,), hidden=H)
    rng = np.random.default_rng(seed)
    for p in (model.W, model.b, model.c):
        p.data[...] = rng.standard_normal(p.shape).astype(np.float32)
    return model, rng


def brute_force_log_z(W, b, c) -> float:
    """log sum_{v,h} exp(b.v + c.h + v.W h) over every joint state."""
    v, h = binary_states(W.shape[0]), binary_states(W.shape[1])
    neg_e = (v @ b)[:, None] + (h @ c)[None, :] + v @ W @ h.T
    return float(np.log(np.exp(neg_e - neg_e.max()).sum()) + neg_e.max())


@given(V=st.integers(1, 6), H=st.integers(1, 6), seed=st.integers(0, 10_000))
def test_free_energy_sums_out_the_hidden_units_and_log_z_enumerates_either_layer(V, H, seed):
    W, b, c = random_rbm(np.random.default_rng(seed), V, H)
    v, h = binary_states(V), binary_states(H)
    neg_e = (v @ b)[:, None] + (h @ c)[None, :] + v @ W @ h.T            # -E(v, h), (2^V, 2^H)
    np.testing.assert_allclose(-free_energy(v, W, b, c), np.log(np.exp(neg_e).sum(axis=1)), rtol=1e-10)
    exact = brute_force_log_z(W, b, c)
    assert exact_log_partition(W, b, c) == pytest.approx(exact, rel=1e-10)
    assert exact_log_partition(W.T, c, b) == pytest.approx(exact, rel=1e-10)  # the layers swapped


def test_model_free_energy_and_energy_agree_with_the_reference():
    model, rng = random_model(5, 4, seed=1)
    v = binary_states(5).astype(np.float32)
    W, b, c = model.parameters_numpy()
    np.testing.assert_allclose(model.free_energy(mg.tensor(v)).numpy(), free_energy(v, W, b, c), rtol=1e-5)
    h = (rng.random((32, 4)) < 0.5).astype(np.float32)
    expected = -(v @ b) - h @ c - ((v @ W) * h).sum(axis=1)
    np.testing.assert_allclose(model.energy(mg.tensor(v), mg.tensor(h)).numpy(), expected, rtol=1e-5)
    assert float(np.exp(model.log_prob(mg.tensor(v)).numpy().astype(np.float64)).sum()) == pytest.approx(1, abs=1e-4)


def test_block_gibbs_samples_the_model_distribution():
    model, rng = random_model(4, 3, seed=3)
    W, b, c = model.parameters_numpy()
    states = binary_states(4)
    exact = np.exp(-free_energy(states, W, b, c) - exact_log_partition(W, b, c))
    v = model.sample(20_000, steps=30, rng=np.random.default_rng(4)).numpy().reshape(-1, 4)
    counts = np.bincount((v @ (1 << np.arange(4))).astype(int), minlength=16) / len(v)
    assert 0.5 * np.abs(counts - exact).sum() < 0.02, (counts, exact)
    chi2 = len(v) * ((counts - exact) ** 2 / exact).sum()
    assert chi2 < 45, f"chi^2 {chi2:.1f} on 15 degrees of freedom"  # p < 1e-4 under the null


def test_ais_betas_run_from_0_to_1_in_the_requested_number_of_steps():
    betas = ais_betas(1500)
    assert betas[0] == 0 and betas[-1] == 1 and len(betas) == 1501 and np.all(np.diff(betas) > 0)


def twelve_pixel_digits(split: str) -> np.ndarray:
    """12 pixels (rows 3-4, columns 1-6) of the statically binarized digits: a 12-visible task."""
    return load_digits(split, binarize="static").images[:, 0, 3:5, 1:7].reshape(-1, 12).astype(np.float32)


def train_small(persistent: bool, k: int, steps: int = 200, hidden: int = 10, seed: int = 0) -> RBM:
    mg.manual_seed(seed)
    x = twelve_pixel_digits("train")
    model = RBM(event_shape=(12,), hidden=hidden, lr=0.05, batch_size=20, k=k, persistent=persistent,
                decay=False, momentum_steps=50)
    model.set_base_rate(x)
    opt = model.configure_optimizers()
    order = np.random.default_rng(seed).permutation(len(x))
    for step in range(steps):
        idx = order[(step * 20) % (len(x) - 20):][:20]
        model.train_step(mg.tensor(x[idx]), opt, step)
    return model


def exact_nll(model: RBM, x: np.ndarray) -> float:
    W, b, c = model.parameters_numpy()
    return float(free_energy(x.astype(np.float64), W, b, c).mean() + exact_log_partition(W, b, c))


@pytest.fixture(scope="module")
def trained_pcd() -> RBM:
    return train_small(persistent=True, k=1)


def test_ais_matches_the_exact_log_z_of_a_trained_rbm_within_its_error_bar(trained_pcd):
    W, b, c = trained_pcd.parameters_numpy()
    assert np.abs(W).max() > 0.5, "the RBM did not move far from its initialisation: not a trained model"
    exact = exact_log_partition(W, b, c)
    base = trained_pcd.base_bias.numpy()
    est = ais_log_partition(W, b, c, base, steps=1000, chains=100, rng=np.random.default_rng(0))
    assert est.sem < 0.05, f"AIS error bar {est.sem:.3f} too wide to test anything"
    assert abs(est.value - exact) <= 3 * est.sem, f"AIS {est.value:.4f} +- {est.sem:.4f} vs exact {exact:.4f}"
    crude = ais_log_partition(W, b, c, base, steps=3, chains=100, rng=np.random.default_rng(0))
    assert crude.sem > est.sem, "fewer intermediate distributions should widen the error bar"


def test_cd_and_pcd_updates_raise_the_exact_likelihood(trained_pcd):
    x = twelve_pixel_digits("valid")
    mg.manual_seed(0)
    untrained = RBM(event_shape=(12,), hidden=10)
    untrained.set_base_rate(twelve_pixel_digits("train"))
    start = exact_nll(untrained, x)
    assert exact_nll(trained_pcd, x) < start - 0.15
    assert exact_nll(train_small(persistent=False, k=1), x) < start - 0.1


def test_the_update_is_the_cd_statistics_difference():
    """d/dW of mean F(v+) - mean F(v-) is -(<v h>_+ - <v h>_-)/B with h at p(h|v), Hinton's CD rule."""
    mg.manual_seed(0)
    model = RBM(event_shape=(6,), hidden=5, k=2, persistent=False)
    rng = np.random.default_rng(0)
    model.W.data[...] = rng.standard_normal((6, 5)).astype(np.float32)
    vp = (rng.random((7, 6)) < 0.5).astype(np.float32)
    vn = (rng.random((9, 6)) < 0.5).astype(np.float32)
    loss = model.free_energy(mg.tensor(vp)).mean() - model.free_energy(mg.tensor(vn)).mean()
    loss.backward()
    W, b, c = model.parameters_numpy()
    hp = 1 / (1 + np.exp(-(vp @ W + c)))
    hn = 1 / (1 + np.exp(-(vn @ W + c)))
    np.testing.assert_allclose(model.W.grad.numpy(), -(vp.T @ hp / 7 - vn.T @ hn / 9), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(model.b.grad.numpy(), -(vp.mean(0) - vn.mean(0)), rtol=1e-4, atol=1e-6)


def test_pcd_carries_its_chains_between_updates_and_cd_starts_at_the_data():
    x = mg.tensor(twelve_pixel_digits("train")[:20])
    for persistent in (True, False):
        mg.manual_seed(0)
        model = RBM(event_shape=(12,), hidden=6, persistent=persistent, batch_size=20)
        opt = model.configure_optimizers()
        model.train_step(x, opt, 0)
        before = model.chains.numpy().copy()
        model.train_step(x, opt, 1)
        moved = not np.array_equal(before, model.chains.numpy())
        assert moved == persistent and (persistent or not before.any())


def test_weight_decay_touches_only_the_weights_and_momentum_ramps():
    model = models.create("rbm", hidden=8, momentum_steps=1)
    (opt,) = model.configure_optimizers()
    decays = {id(p): g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    assert decays[id(model.W)] == 1e-4 and decays[id(model.b)] == 0 and decays[id(model.c)] == 0
    batch = next(iter(model.loader("train", seed=0)))[0]
    model.train_step(batch, [opt], 0)
    assert opt.param_groups[0]["momentum"] == 0.5
    model.train_step(batch, [opt], 1)
    assert opt.param_groups[0]["momentum"] == 0.9


def test_metrics_use_the_exact_log_z_for_small_models_and_report_test_nll():
    mg.manual_seed(0)
    model = models.create("rbm", hidden=12)
    m = model.metrics("test")
    W, b, c = model.parameters_numpy()
    x = load_digits("test", binarize="static").images.reshape(-1, 64)
    assert m["log_z"] == pytest.approx(exact_log_partition(W, b, c)) and m["log_z_sem"] == 0
    assert m["test_nll"] == pytest.approx(exact_nll(model, x), rel=1e-6)
    assert m["test_bpd"] == pytest.approx(m["test_nll"] / (64 * math.log(2)))


def test_exact_enumeration_refuses_large_models_with_a_clear_error():
    with pytest.raises(ValueError, match="use AIS"):
        exact_log_partition(np.zeros((64, 30)), np.zeros(64), np.zeros(30))
