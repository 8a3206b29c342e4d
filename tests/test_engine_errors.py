"""Errors instead of silent wrong answers: a Function whose backward returns a raw array, and a layer fed
an input of another dtype than its weights (NumPy would promote silently; PyTorch raises)."""
from __future__ import annotations

import numpy as np
import pytest

import minigen as mg
from minigen import nn


class Twice(mg.Function):
    """2x, with a backward that wrongly returns a NumPy array."""

    def forward(self, x):
        return 2 * x

    def backward(self, gy):
        return 2 * gy.data


def test_a_backward_returning_an_array_names_the_op():
    x = mg.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(TypeError, match=r"Twice.backward returned a ndarray where a Tensor gradient for an "
                                        r"input of shape \(3,\) is expected"):
        Twice.apply(x).sum().backward()
    assert x.grad is None
    with pytest.raises(TypeError, match="Twice.backward returned a ndarray"):
        mg.grad(Twice.apply(x).sum(), [x])


@pytest.mark.parametrize("layer, shape", [
    (lambda: nn.Linear(3, 2), (4, 3)),
    (lambda: nn.Conv1d(2, 2, 3), (1, 2, 5)),
    (lambda: nn.Conv2d(2, 2, 3), (1, 2, 5, 5)),
    (lambda: nn.ConvTranspose2d(2, 2, 3), (1, 2, 3, 3)),
    (lambda: nn.MaskedConv2d(2, 2, 3, "A"), (1, 2, 4, 4)),
    (lambda: nn.GRU(3, 2), (4, 1, 3)),
    (lambda: nn.LSTM(3, 2), (4, 1, 3)),
])
def test_a_float32_layer_fed_float64_names_the_layer(layer, shape):
    m = layer()
    name = type(m).__name__
    with pytest.raises(TypeError, match=rf"{name}\(.*\): input of dtype float64 \(shape {re_shape(shape)}\) does "
                                        r"not match the layer's float32 weight on cpu"):
        m(mg.tensor(np.zeros(shape)))
    with pytest.raises(TypeError, match=rf"{name}\(.*\): input of dtype int64"):
        m(mg.zeros(*shape, dtype=mg.int64))
    out = m.double()(mg.tensor(np.zeros(shape)))  # either side converted: fine
    assert (out[0] if isinstance(out, tuple) else out).dtype == np.float64


def re_shape(shape: tuple) -> str:
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")
