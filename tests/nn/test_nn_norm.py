"""Batch norm's running statistics over several steps, eval mode, momentum=None, and no-tracking mode
against NumPy; LayerNorm on several trailing shapes."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigen as mg
import nn_reference as ref
from minigen import nn


@given(seed=st.integers(0, 2**31 - 1), momentum=st.sampled_from([0.1, 0.3, None]),
       spatial=st.sampled_from([(), (3,), (2, 3)]))
def test_batch_norm_running_stats_match_numpy(seed, momentum, spatial):
    rng = np.random.default_rng(seed)
    c = 3
    layer = (nn.BatchNorm2d if len(spatial) == 2 else nn.BatchNorm1d)(c, momentum=momentum).double()
    mean, var = np.zeros(c), np.ones(c)
    for step in range(1, 5):
        x = rng.normal(2.0, 3.0, (4, c) + spatial)
        y = layer(mg.tensor(x))
        expected, batch_mean, batch_var = ref.batch_norm_train(x, np.ones(c), np.zeros(c), 1e-5)
        np.testing.assert_allclose(y.numpy(), expected, rtol=1e-9, atol=1e-9)
        n = x.size // c
        factor = 1.0 / step if momentum is None else momentum
        mean = (1 - factor) * mean + factor * batch_mean
        var = (1 - factor) * var + factor * batch_var * n / (n - 1)  # unbiased, as PyTorch
    np.testing.assert_allclose(layer.running_mean.numpy(), mean, rtol=1e-9)
    np.testing.assert_allclose(layer.running_var.numpy(), var, rtol=1e-9)
    assert int(layer.num_batches_tracked.item()) == 4
    layer.eval()
    x = rng.normal(size=(2, c) + spatial)
    shape = (1, c) + (1,) * len(spatial)
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(),
                               (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + 1e-5), rtol=1e-8)
    np.testing.assert_allclose(layer.running_mean.numpy(), mean, rtol=1e-12)  # eval leaves them alone
    assert int(layer.num_batches_tracked.item()) == 4


def test_batch_norm_without_running_stats_uses_batch_statistics_in_eval():
    layer = nn.BatchNorm1d(2, track_running_stats=False).double().eval()
    assert layer.running_mean is None and "running_mean" not in layer.state_dict()
    x = np.random.default_rng(0).normal(size=(5, 2))
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(),
                               ref.batch_norm_train(x, np.ones(2), np.zeros(2), 1e-5)[0], rtol=1e-9)


def test_batch_norm_checks_its_input():
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\).*shape \(2, 4, 5, 5\)"):
        nn.BatchNorm2d(3)(mg.zeros(2, 4, 5, 5))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(mg.zeros(1, 3))


def test_batch_norm_gradient_flows_to_affine_parameters():
    layer = nn.BatchNorm2d(2)
    x = mg.randn(3, 2, 2, 2, requires_grad=True)
    (layer(x) * mg.randn(3, 2, 2, 2)).sum().backward()
    assert layer.weight.grad.shape == (2,) and layer.bias.grad.shape == (2,) and x.grad.shape == x.shape


@given(seed=st.integers(0, 2**31 - 1), shape=st.sampled_from([(4,), (2, 3), (3, 1, 2)]))
def test_layer_norm_matches_numpy(seed, shape):
    rng = np.random.default_rng(seed)
    layer = nn.LayerNorm(shape, eps=1e-3).double()
    layer.weight.data = rng.normal(size=shape)
    layer.bias.data = rng.normal(size=shape)
    x = rng.normal(size=(2,) + shape)
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(),
                               ref.layer_norm(x, shape, layer.weight.numpy(), layer.bias.numpy(), 1e-3),
                               rtol=1e-9, atol=1e-12)
    y = nn.LayerNorm(shape, elementwise_affine=False).double()(mg.tensor(x)).numpy()
    axes = tuple(range(1, 1 + len(shape)))
    np.testing.assert_allclose(y.mean(axis=axes), 0, atol=1e-9)
    v = x.var(axis=axes)
    np.testing.assert_allclose(y.var(axis=axes), v / (v + 1e-5), rtol=1e-9)
