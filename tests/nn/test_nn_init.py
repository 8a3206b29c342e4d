"""Initialisers: moments within sampling tolerance, orthogonality, PyTorch's default layer init and fans,
and reproducibility under mg.manual_seed."""
from __future__ import annotations

import math

import numpy as np
import pytest

import minigen as mg
from minigen import nn
from minigen.nn import init


def _t(*shape, dtype=np.float32):
    return mg.zeros(*shape, dtype=dtype)


def _close(value, expected, rel=0.05):
    assert abs(value - expected) <= rel * abs(expected), (value, expected)


def test_fans_and_gain():
    assert init.calculate_fan_in_and_fan_out(_t(5, 3)) == (3, 5)
    assert init.calculate_fan_in_and_fan_out(_t(8, 4, 3, 2)) == (24, 48)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.calculate_fan_in_and_fan_out(_t(3))
    assert init.calculate_gain("relu") == math.sqrt(2) and init.calculate_gain("tanh") == 5 / 3
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    assert init.calculate_gain("conv2d") == 1 == init.calculate_gain("sigmoid")


def test_uniform_normal_constant():
    mg.manual_seed(0)
    t = init.uniform_(_t(200, 100), -2.0, 3.0)
    a = t.numpy()
    assert a.min() >= -2 and a.max() < 3 and t.dtype == np.float32
    _close(a.mean(), 0.5, 0.05)
    _close(a.var(), 25 / 12, 0.03)
    n = init.normal_(_t(200, 100, dtype=np.float64), 1.0, 0.5).numpy()
    assert n.dtype == np.float64
    _close(n.mean(), 1.0, 0.01)
    _close(n.std(), 0.5, 0.02)
    assert (init.constant_(_t(3), 2.5).numpy() == 2.5).all()
    assert (init.zeros_(mg.ones(2, 2)).numpy() == 0).all() and (init.ones_(_t(2)).numpy() == 1).all()
    tn = init.trunc_normal_(_t(1000), std=2.0, a=-1.0, b=1.5).numpy()
    assert tn.min() >= -1 and tn.max() <= 1.5
    np.testing.assert_array_equal(init.eye_(_t(2, 3)).numpy(), np.eye(2, 3))


@pytest.mark.parametrize("fn, expected_var", [
    (lambda t: init.xavier_uniform_(t, gain=2.0), 4 * 2 / (300 + 200)),
    (lambda t: init.xavier_normal_(t), 2 / (300 + 200)),
    (lambda t: init.kaiming_uniform_(t, nonlinearity="relu"), 2 / 300),
    (lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"), 2 / 200),
    (lambda t: init.kaiming_normal_(t, a=0.1), 2 / (1 + 0.01) / 300),
])
def test_variance_scaling(fn, expected_var):
    mg.manual_seed(1)
    w = fn(_t(200, 300)).numpy()
    _close(w.var(), expected_var, 0.03)  # 60,000 samples: sd of the estimate ~ 0.6-0.9%
    assert abs(w.mean()) < 0.02 * math.sqrt(expected_var)  # 5 standard errors


@pytest.mark.parametrize("shape", [(4, 7), (7, 4), (5, 5), (4, 2, 3, 3)])
def test_orthogonal(shape):
    mg.manual_seed(2)
    w = init.orthogonal_(_t(*shape, dtype=np.float64), gain=1.5).numpy().reshape(shape[0], -1)
    rows, cols = w.shape
    gram = w @ w.T if rows <= cols else w.T @ w
    np.testing.assert_allclose(gram, 2.25 * np.eye(min(rows, cols)), atol=1e-10)


@pytest.mark.parametrize("build, fan_in", [
    (lambda: nn.Linear(50, 40), 50),
    (lambda: nn.Conv2d(3, 8, 5), 75),
    (lambda: nn.Conv1d(4, 6, 3, groups=2), 6),
    (lambda: nn.ConvTranspose2d(4, 6, 3), 54),
    (lambda: nn.Maxout(20, 10, 3), 20),
])
def test_default_layer_init_like_pytorch(build, fan_in):
    mg.manual_seed(3)
    layer = build()
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    w, b = layer.weight.numpy(), layer.bias.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert np.abs(b).max() <= bound
    _close(w.var(), bound ** 2 / 3, 0.25)


def test_manual_seed_makes_init_reproducible():
    mg.manual_seed(7)
    a = nn.Sequential(nn.Linear(3, 4), nn.Conv2d(2, 2, 3), nn.Embedding(5, 2), nn.LSTM(2, 3))
    mg.manual_seed(7)
    b = nn.Sequential(nn.Linear(3, 4), nn.Conv2d(2, 2, 3), nn.Embedding(5, 2), nn.LSTM(2, 3))
    c = nn.Sequential(nn.Linear(3, 4), nn.Conv2d(2, 2, 3), nn.Embedding(5, 2), nn.LSTM(2, 3))
    for (name, p), q, r in zip(a.named_parameters(), b.parameters(), c.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=name)
        assert not np.array_equal(p.numpy(), r.numpy()), name
