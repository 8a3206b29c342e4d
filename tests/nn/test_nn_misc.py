"""Dropout statistics, Embedding's padding_idx, causal and masked convolutions' receptive fields,
factory keywords (dtype), and second derivatives through layers (WGAN-GP on a spectrally normalized net)."""
from __future__ import annotations

import numpy as np
import pytest

import minigen as mg
from minigen import nn
from minigen.testing import gradgradcheck


def test_dropout_statistics_and_eval():
    mg.manual_seed(0)
    layer = nn.Dropout(0.3)
    y = layer(mg.ones(200, 100)).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.01  # 20,000 draws: sd 0.003
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    layer.eval()
    x = mg.randn(3, 4)
    assert layer(x) is x
    assert (nn.Dropout(1.0)(mg.ones(3)).numpy() == 0).all()
    with pytest.raises(ValueError, match="probability"):
        nn.Dropout(1.5)


def test_dropout2d_drops_whole_channels():
    mg.manual_seed(1)
    y = nn.Dropout2d(0.5)(mg.ones(50, 20, 3, 3)).numpy()
    per_channel = y.reshape(50, 20, -1)
    assert ((per_channel == 0).all(axis=2) | (per_channel == 2).all(axis=2)).all()
    assert abs((per_channel[:, :, 0] == 0).mean() - 0.5) < 0.05


def test_embedding_padding_idx_gets_no_gradient():
    mg.manual_seed(2)
    emb = nn.Embedding(4, 3, padding_idx=1)
    np.testing.assert_array_equal(emb.weight.numpy()[1], 0)
    emb.weight.data[1] = 5.0  # the forward still returns the row's value
    idx = np.array([[0, 1], [1, 3]])
    y = emb(idx)
    np.testing.assert_array_equal(y.numpy(), emb.weight.numpy()[idx])
    (y * mg.randn(2, 2, 3)).sum().backward()
    g = emb.weight.grad.numpy()
    assert (g[1] == 0).all() and (g[0] != 0).all() and (g[3] != 0).all() and (g[2] == 0).all()
    assert emb([2, 0]).shape == (2, 3)
    with pytest.raises(IndexError, match="out of range"):
        emb(np.array([4]))


def _jacobian_support(fn, x: np.ndarray, out_index) -> np.ndarray:
    """Which input elements the output element `out_index` depends on (through the gradient)."""
    t = mg.tensor(x, requires_grad=True)
    y = fn(t)
    g, = mg.grad(y[out_index], [t])
    return g.numpy() != 0


def test_causal_conv1d_sees_only_the_past():
    mg.manual_seed(3)
    conv = nn.Conv1d(2, 3, 3, dilation=2, causal=True).double()
    x = np.random.default_rng(0).normal(size=(1, 2, 12))
    assert conv(mg.tensor(x)).shape == (1, 3, 12)
    for t in (0, 5, 11):
        support = _jacobian_support(conv, x, (0, 1, t)).any(axis=(0, 1))
        assert set(np.flatnonzero(support)) == {s for s in (t, t - 2, t - 4) if s >= 0}
    with pytest.raises(ValueError, match="causal"):
        nn.Conv1d(2, 3, 3, padding=1, causal=True)


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_masked_conv2d_sees_only_earlier_pixels(mask_type):
    mg.manual_seed(4)
    conv = nn.MaskedConv2d(2, 2, 5, mask_type).double()
    np.testing.assert_array_equal(conv.mask.numpy()[2], [1, 1, int(mask_type == "B"), 0, 0])
    assert "mask" in conv.state_dict() and "mask" not in dict(conv.named_parameters())
    x = np.random.default_rng(1).normal(size=(1, 2, 6, 6))
    assert conv(mg.tensor(x)).shape == (1, 2, 6, 6)
    for i, j in [(0, 0), (3, 2), (5, 5)]:
        support = _jacobian_support(conv, x, (0, 0, i, j)).any(axis=(0, 1))
        for a, b in zip(*np.nonzero(support)):
            assert (a, b) < (i, j) or ((a, b) == (i, j) and mask_type == "B")
        if (i, j) != (0, 0):
            assert support.any()


def test_dtype_keyword_and_double():
    layers = [nn.Linear(2, 3, dtype=np.float64), nn.Conv2d(1, 2, 3, dtype=np.float64),
              nn.LSTM(2, 3, dtype=np.float64), nn.BatchNorm1d(2, dtype=np.float64),
              nn.Embedding(3, 2, dtype=np.float64), nn.Maxout(2, 2, 2, dtype=np.float64)]
    for layer in layers:
        assert all(p.dtype == np.float64 for p in layer.parameters()), type(layer).__name__
    y = nn.Linear(2, 3).double()(mg.tensor(np.ones((1, 2))))
    assert y.dtype == np.float64


def test_second_derivatives_through_layers():
    mg.manual_seed(5)
    net = nn.Sequential(nn.spectral_norm(nn.Linear(3, 4)), nn.LayerNorm(4), nn.Tanh(), nn.Linear(4, 1))
    net.double().eval()
    x = mg.tensor(np.random.default_rng(2).normal(size=(2, 3)), requires_grad=True)
    gradgradcheck(lambda x, *ps: net(x), [x, *net.parameters()], atol=1e-6, rtol=1e-4)
