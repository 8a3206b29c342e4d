"""Spectral norm: sigma converges to the largest singular value, u is updated once per training forward
and never in eval, the gradient is that of W / (u^T W v) with u and v constant, and the state round-trips."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minigen as mg
from minigen import nn


def _matrix(module, w):
    return (w.swapaxes(0, 1) if isinstance(module, nn.ConvTranspose2d) else w).reshape(
        module.weight_u.shape[0], -1)


LAYERS = {
    "linear": (lambda: nn.Linear(6, 5), (2, 6)),
    "conv2d": (lambda: nn.Conv2d(3, 4, 3), (1, 3, 4, 4)),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(3, 4, 2), (1, 3, 2, 2)),
}


@pytest.mark.parametrize("kind", list(LAYERS))
@given(seed=st.integers(0, 2**31 - 1))
def test_sigma_converges_to_largest_singular_value(kind, seed):
    mg.manual_seed(seed)
    build, shape = LAYERS[kind]
    layer = nn.spectral_norm(build()).double()
    w = layer.weight_orig.numpy()
    singular = np.linalg.svd(_matrix(layer, w), compute_uv=False)
    assume(singular[1] < 0.9 * singular[0])  # power iteration converges like (s2/s1)^(2k)
    x = mg.randn(*shape, dtype=np.float64)
    for _ in range(100):
        layer(x)
    sigma_svd = singular[0]
    sigma = w.ravel()[0] / layer.weight.numpy().ravel()[0]
    np.testing.assert_allclose(sigma, sigma_svd, rtol=1e-4)
    assert abs(np.linalg.svd(_matrix(layer, layer.weight.numpy()), compute_uv=False)[0] - 1) < 1e-4


def test_u_updates_in_training_only():
    mg.manual_seed(0)
    layer = nn.spectral_norm(nn.Linear(4, 3), n_power_iterations=1)
    x = mg.randn(2, 4)
    u0 = layer.weight_u.numpy().copy()
    layer(x)
    u1 = layer.weight_u.numpy().copy()
    assert not np.allclose(u0, u1)
    layer.eval()
    y_a = layer(x).numpy()
    y_b = layer(x).numpy()
    np.testing.assert_array_equal(layer.weight_u.numpy(), u1)
    np.testing.assert_array_equal(y_a, y_b)
    layer.train()
    layer(x)
    assert not np.array_equal(layer.weight_u.numpy(), u1)


def test_gradient_treats_u_and_v_as_constants():
    mg.manual_seed(1)
    layer = nn.spectral_norm(nn.Linear(4, 3)).double()
    x = mg.randn(5, 4, dtype=np.float64)
    g_out = np.random.default_rng(0).normal(size=(5, 3))
    y = layer(x)  # one power-iteration step, then sigma = u^T W v with the updated u, v
    (y * mg.tensor(g_out)).sum().backward()
    w, u, v = layer.weight_orig.numpy(), layer.weight_u.numpy(), layer.weight_v.numpy()
    sigma = u @ w @ v
    g_w_hat = g_out.T @ x.numpy()  # d loss / d (W / sigma)
    expected = g_w_hat / sigma - (g_w_hat * w).sum() / sigma ** 2 * np.outer(u, v)
    np.testing.assert_allclose(layer.weight_orig.grad.numpy(), expected, rtol=1e-10)


def test_state_dict_and_removal():
    mg.manual_seed(2)
    layer = nn.spectral_norm(nn.Conv2d(2, 3, 3))
    assert list(layer.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    assert [n for n, _ in layer.named_parameters()] == ["bias", "weight_orig"]
    x = mg.randn(1, 2, 5, 5)
    for _ in range(3):
        layer(x)
    other = nn.spectral_norm(nn.Conv2d(2, 3, 3))
    other.load_state_dict(layer.state_dict())
    np.testing.assert_allclose(other.eval()(x).numpy(), layer.eval()(x).numpy(), rtol=1e-6)
    param = layer.weight_orig
    expected = layer(x).numpy()
    nn.remove_spectral_norm(layer)
    assert layer.weight is param and list(layer.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="not spectrally normalized"):
        nn.remove_spectral_norm(layer)


def test_wrapper_and_errors():
    wrapped = nn.SpectralNorm(nn.Linear(3, 2))
    assert [n for n, _ in wrapped.named_parameters()] == ["module.bias", "module.weight_orig"]
    assert wrapped(mg.randn(4, 3)).shape == (4, 2)
    with pytest.raises(RuntimeError, match="already spectrally normalized"):
        nn.spectral_norm(wrapped.module)
    with pytest.raises(ValueError, match="no parameter 'kernel'"):
        nn.spectral_norm(nn.Linear(2, 2), name="kernel")
