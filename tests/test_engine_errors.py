"""Errors instead of silent wrong answers: a Function whose backward returns a raw array, a layer fed an
input of another dtype than its weights (NumPy would promote silently; PyTorch raises), backward without a
gradient or a graph, messages that name the op, shapes and devices, and anomaly mode naming the op that made
a NaN."""
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


# ---------------------------------------------------------------------------------------------- errors

def test_backward_on_a_non_scalar_needs_a_gradient():
    y = mg.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"only for scalar outputs; output 0 has shape \(3,\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"gradient shape \(2,\) does not match output shape \(3,\)"):
        y.backward(mg.ones(2, dtype=np.float64))
    y.backward(mg.tensor(np.array([1.0, 2.0, 3.0])))


def test_backward_on_a_tensor_without_graph():
    with pytest.raises(RuntimeError, match=r"output 0 \(shape \(\)\) does not require grad"):
        mg.ones(2).sum().backward()


def test_shape_errors_name_the_op_and_shapes():
    message = r"Mul: .*broadcast.*\(inputs: \(2, 3\) float32, \(2,\) float32; device cpu\)"
    with pytest.raises(ValueError, match=message):
        mg.ones(2, 3) * mg.ones(2)
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(2, 3\) do not align"):
        mg.ones(2, 3) @ mg.ones(2, 3)


def test_mixed_devices_are_an_error_naming_both():
    if not mg.cuda.is_available():
        pytest.skip("no CUDA GPU available (mg.cuda.is_available() is False)")
    message = r"Add: expected all inputs on one device, got \(2,\) on cpu, \(2,\) on cuda"
    with pytest.raises(RuntimeError, match=message):
        mg.ones(2) + mg.ones(2, device="cuda")


# -------------------------------------------------------------------------------------- anomaly mode

@pytest.fixture
def anomaly():
    mg.set_anomaly_mode(True)
    yield
    mg.set_anomaly_mode(False)


def test_anomaly_mode_names_the_op_that_made_nan_in_forward(anomaly):
    x = mg.tensor(np.array([1.0, -1.0]), requires_grad=True)
    message = r"anomaly: Log produced NaN or inf in forward"
    with np.errstate(invalid="ignore"), pytest.raises(FloatingPointError, match=message):
        x.log()


def test_anomaly_mode_names_the_op_that_made_nan_in_backward(anomaly):
    x = mg.tensor(np.array([0.0, 4.0]), requires_grad=True)
    y = x.sqrt().sum()
    message = r"anomaly: Sqrt produced NaN or inf in backward"
    with np.errstate(divide="ignore"), pytest.raises(FloatingPointError, match=message):
        y.backward()


def test_without_anomaly_mode_nan_passes_silently():
    x = mg.tensor(np.array([0.0]), requires_grad=True)
    with np.errstate(divide="ignore"):
        x.sqrt().sum().backward()
    assert np.isinf(x.grad.numpy()).all()
