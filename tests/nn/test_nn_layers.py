"""The layer factory: every layer in a table, checked two ways in float64.

- test_forward: the layer's output against the plain-NumPy definition in nn_reference.py, computed
  from the layer's own parameters and buffers;
- test_gradcheck: central differences of <v, layer(x)> with respect to the input and every parameter.

A `LayerCase` draws constructor arguments and an input shape, builds the layer and names its reference.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minigen as mg
import nn_reference as ref
from minigen import nn
from minigen.testing import gradcheck
from minigen.testing import strategies as mst


@dataclass(frozen=True)
class LayerCase:
    """`draw(data) -> (module, input shape)`; `reference(x, params, module) -> array` (params: every
    parameter and buffer as a float64 array, by state_dict name)."""

    name: str
    draw: Callable
    reference: Callable | None
    domain: str = "real"
    integer_input: int = 0  # > 0: the input holds integer indices below this bound (Embedding)
    train: bool = True


def _bias(data) -> bool:
    return data.draw(st.booleans(), label="bias")


def _batch(data, lo: int = 1) -> int:
    return data.draw(st.integers(lo, 3), label="batch")


# ---------------------------------------------------------------------------------- drawn layers

def draw_linear(data):
    i, o = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    lead = data.draw(st.sampled_from([(2,), (2, 3), ()]))
    return nn.Linear(i, o, bias=_bias(data)), lead + (i,)


def draw_conv1d(data, causal=False):
    g = data.draw(mst.conv_geometries(dims=1, max_size=6, max_channels=3))
    m = nn.Conv1d(g.in_channels, g.out_channels, g.kernel[0], g.stride, 0 if causal else g.padding, g.dilation,
                  g.groups, bias=_bias(data), causal=causal)
    return m, g.input_shape


def draw_conv2d(data):
    g = data.draw(mst.conv_geometries(dims=2, max_size=5, max_channels=3))
    m = nn.Conv2d(g.in_channels, g.out_channels, g.kernel, g.stride, g.padding, g.dilation, g.groups,
                  bias=_bias(data))
    return m, g.input_shape


def draw_conv_transpose2d(data):
    groups = data.draw(st.sampled_from([1, 2]))
    cin, cout = groups * data.draw(st.integers(1, 2)), groups * data.draw(st.integers(1, 2))
    k = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    stride, dilation = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2))
    padding = data.draw(st.integers(0, dilation * (min(k) - 1) // 2))  # keeps the output non-empty
    output_padding = data.draw(st.integers(0, max(stride, dilation) - 1))
    size = (data.draw(st.integers(1, 3)), data.draw(st.integers(2, 3)))
    m = nn.ConvTranspose2d(cin, cout, k, stride, padding, output_padding, groups, _bias(data), dilation)
    return m, (_batch(data), cin) + size


def draw_masked_conv2d(data):
    k = data.draw(st.sampled_from([1, 3, 5]))
    m = nn.MaskedConv2d(data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)), k,
                        data.draw(st.sampled_from(["A", "B"])), bias=_bias(data))
    return m, (_batch(data), m.in_channels, data.draw(st.integers(2, 4)), data.draw(st.integers(2, 4)))


def draw_batch_norm(data, train):
    dims = data.draw(st.sampled_from([2, 3, 4]))
    c = data.draw(st.integers(1, 3))
    layer = nn.BatchNorm2d if dims == 4 else nn.BatchNorm1d
    m = layer(c, momentum=data.draw(st.sampled_from([0.1, 0.5, None])), affine=data.draw(st.booleans()))
    seed = data.draw(st.integers(0, 2**31 - 1))
    m.running_mean.data = mst.sample_array(seed, (c,), np.float32)
    m.running_var.data = mst.sample_array(seed + 1, (c,), np.float32, "positive")
    if m.affine:
        m.weight.data = mst.sample_array(seed + 2, (c,), np.float32)
        m.bias.data = mst.sample_array(seed + 3, (c,), np.float32)
    shape = (_batch(data, 2 if dims == 2 else 1), c) + (3,) * (dims - 2)
    return m, shape


def batch_norm_reference(x, p, m):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    w = p.get("weight", np.ones(m.num_features))
    b = p.get("bias", np.zeros(m.num_features))
    if m.training:
        return ref.batch_norm_train(x, w, b, m.eps)[0]
    y = (x - p["running_mean"].reshape(shape)) / np.sqrt(p["running_var"].reshape(shape) + m.eps)
    return y * w.reshape(shape) + b.reshape(shape)


def draw_layer_norm(data):
    shape = data.draw(mst.shapes(1, 3, 1, 3))
    k = data.draw(st.integers(1, len(shape)))
    m = nn.LayerNorm(shape[len(shape) - k:], elementwise_affine=data.draw(st.booleans()))
    if m.elementwise_affine:
        m.weight.data = mst.sample_array(data.draw(st.integers(0, 99)), m.normalized_shape, np.float32)
        m.bias.data = mst.sample_array(data.draw(st.integers(0, 99)), m.normalized_shape, np.float32)
    return m, shape


def draw_instance_norm(data):
    c = data.draw(st.integers(1, 3))
    return nn.InstanceNorm2d(c, affine=data.draw(st.booleans())), (_batch(data), c, 2, 3)


def instance_norm_reference(x, p, m):
    y = (x - x.mean(axis=(2, 3), keepdims=True)) / np.sqrt(x.var(axis=(2, 3), keepdims=True) + m.eps)
    return y * p["weight"][:, None, None] + p["bias"][:, None, None] if m.affine else y


def draw_group_norm(data):
    groups = data.draw(st.integers(1, 2))
    c = groups * data.draw(st.integers(1, 2))
    return nn.GroupNorm(groups, c), (_batch(data), c, 3)


def group_norm_reference(x, p, m):
    g = x.reshape(x.shape[0], m.num_groups, -1)
    y = ((g - g.mean(axis=2, keepdims=True)) / np.sqrt(g.var(axis=2, keepdims=True) + m.eps)).reshape(x.shape)
    return y * p["weight"][:, None] + p["bias"][:, None]


def draw_embedding(data):
    n = data.draw(st.integers(2, 5))
    return nn.Embedding(n, data.draw(st.integers(1, 3))), data.draw(mst.shapes(1, 2, 1, 3))


def draw_cell(layer):
    """A drawer of LSTMCell or GRUCell layers and their inputs."""

    def draw(data):
        i, h = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
        return layer(i, h, bias=_bias(data)), data.draw(st.sampled_from([(2,), ()])) + (i,)

    return draw


def lstm_cell_reference(x, p, m):
    zero = np.zeros(x.shape[:-1] + (m.hidden_size,))
    h, c = ref.lstm_cell(x, zero, zero, p["weight_ih"], p["weight_hh"], p.get("bias_ih"), p.get("bias_hh"))
    return np.concatenate([h.ravel(), c.ravel()])


def gru_cell_reference(x, p, m):
    zero = np.zeros(x.shape[:-1] + (m.hidden_size,))
    return ref.gru_cell(x, zero, p["weight_ih"], p["weight_hh"], p.get("bias_ih"), p.get("bias_hh"))


def draw_recurrent(layer):
    """A drawer of stacked LSTM or GRU layers (batch_first, bidirectional, unbatched) and their inputs."""

    def draw(data):
        i, h = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2))
        m = layer(i, h, num_layers=data.draw(st.integers(1, 2)), bias=_bias(data),
                  batch_first=data.draw(st.booleans()), bidirectional=data.draw(st.booleans()))
        t, n = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 2))
        return m, data.draw(st.sampled_from([(n, t, i) if m.batch_first else (t, n, i), (t, i)]))

    return draw


def recurrent_reference(x, p, m):
    """The NumPy loop (ref.lstm or ref.gru): the output, then each final state, flattened."""
    batched = x.ndim == 3
    x = x if not batched else x.transpose(1, 0, 2) if m.batch_first else x
    loop = ref.lstm if isinstance(m, nn.LSTM) else ref.gru
    out, *states = loop(x if batched else x[:, None], p, m.num_layers, m.hidden_size, m.bidirectional)
    if not batched:
        return np.concatenate([out[:, 0].ravel()] + [s[:, 0].ravel() for s in states])
    out = out.transpose(1, 0, 2) if m.batch_first else out
    return np.concatenate([out.ravel()] + [s.ravel() for s in states])


def draw_maxout(data):
    i, o, k = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    return nn.Maxout(i, o, k), (_batch(data), i)


def maxout_reference(x, p, m):
    return ref.linear(x, p["weight"], p["bias"]).reshape(x.shape[0], m.out_features, m.pieces).max(axis=-1)


def draw_spectral_norm(data):
    kind = data.draw(st.sampled_from(["linear", "conv", "transpose"]))
    if kind == "linear":
        m, shape = nn.Linear(3, 2), (2, 3)
    elif kind == "conv":
        m, shape = nn.Conv2d(2, 3, 2), (1, 2, 3, 3)
    else:
        m, shape = nn.ConvTranspose2d(2, 3, 2), (1, 2, 2, 2)
    sn = nn.SpectralNorm(m, n_power_iterations=data.draw(st.integers(0, 2)))
    # eval mode divides by the stored u^T W v, which random u, v can put near 0 (then W / sigma and its
    # gradient are ill-conditioned, and float64 differences lose the digits): keep it away from 0
    w = sn.module.weight_orig.numpy()
    mat = (w.swapaxes(0, 1) if kind == "transpose" else w).reshape(len(sn.module.weight_u.numpy()), -1)
    assume(abs(sn.module.weight_u.numpy() @ mat @ sn.module.weight_v.numpy()) > 0.2 * np.linalg.norm(mat, 2))
    return sn, shape


def spectral_norm_reference(x, p, m):
    """eval mode: sigma = u^T W_mat v with the stored vectors; W_mat has rows along dim 0 (1 if transposed)."""
    w = p["module.weight_orig"]
    transposed = isinstance(m.module, nn.ConvTranspose2d)
    mat = (w.swapaxes(0, 1) if transposed else w).reshape(len(p["module.weight_u"]), -1)
    w = w / (p["module.weight_u"] @ mat @ p["module.weight_v"])
    b = p["module.bias"]
    if isinstance(m.module, nn.Linear):
        return ref.linear(x, w, b)
    if transposed:
        return ref.conv_transpose2d(x, w, b)
    return ref.conv2d(x, w, b)


def draw_activation(module):
    def draw(data):
        return module(), data.draw(mst.shapes(1, 3, 1, 4))
    return draw


def _sequential(data):
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)), (2, 3)


def conv1d_reference(x, p, m):
    if m.causal:
        x = np.pad(x, ((0, 0), (0, 0), (m.dilation[0] * (m.kernel_size[0] - 1), 0)))
    return ref.conv1d(x, p["weight"], p.get("bias"), m.stride[0], m.padding[0], m.dilation[0], m.groups)


def _softplus(x):
    return np.logaddexp(0, x)


def _gelu(x):
    from scipy.special import erf
    return 0.5 * x * (1 + erf(x / np.sqrt(2)))


def _log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


CASES = [
    LayerCase("linear", draw_linear, lambda x, p, m: ref.linear(x, p["weight"], p.get("bias"))),
    LayerCase("conv1d", draw_conv1d, conv1d_reference),
    LayerCase("conv1d_causal", lambda d: draw_conv1d(d, causal=True), conv1d_reference),
    LayerCase("conv2d", draw_conv2d, lambda x, p, m: ref.conv2d(x, p["weight"], p.get("bias"), m.stride,
                                                                 m.padding, m.dilation, m.groups)),
    LayerCase("conv_transpose2d", draw_conv_transpose2d,
              lambda x, p, m: ref.conv_transpose2d(x, p["weight"], p.get("bias"), m.stride, m.padding,
                                                   m.output_padding, m.groups, m.dilation)),
    LayerCase("masked_conv2d", draw_masked_conv2d,
              lambda x, p, m: ref.conv2d(x, p["weight"] * ref.raster_mask(*m.kernel_size, m.mask_type),
                                         p.get("bias"), padding=m.padding)),
    LayerCase("batch_norm_train", lambda d: draw_batch_norm(d, True), batch_norm_reference),
    LayerCase("batch_norm_eval", lambda d: draw_batch_norm(d, False), batch_norm_reference, train=False),
    LayerCase("layer_norm", draw_layer_norm,
              lambda x, p, m: ref.layer_norm(x, m.normalized_shape, p.get("weight"), p.get("bias"), m.eps)),
    LayerCase("instance_norm2d", draw_instance_norm, instance_norm_reference),
    LayerCase("group_norm", draw_group_norm, group_norm_reference),
    LayerCase("embedding", draw_embedding, lambda x, p, m: p["weight"][x], integer_input=2),
    LayerCase("lstm_cell", draw_cell(nn.LSTMCell), lstm_cell_reference),
    LayerCase("lstm", draw_recurrent(nn.LSTM), recurrent_reference),
    LayerCase("gru_cell", draw_cell(nn.GRUCell), gru_cell_reference),
    LayerCase("gru", draw_recurrent(nn.GRU), recurrent_reference),
    LayerCase("maxout", draw_maxout, maxout_reference, domain="distinct"),
    LayerCase("spectral_norm_eval", draw_spectral_norm, spectral_norm_reference, train=False),
    LayerCase("sequential", _sequential,
              lambda x, p, m: ref.linear(np.tanh(ref.linear(x, p["0.weight"], p["0.bias"])), p["2.weight"],
                                         p["2.bias"])),
    LayerCase("relu", draw_activation(nn.ReLU), lambda x, p, m: np.maximum(x, 0), domain="distinct"),
    LayerCase("leaky_relu", draw_activation(lambda: nn.LeakyReLU(0.2)),
              lambda x, p, m: np.where(x > 0, x, 0.2 * x), domain="distinct"),
    LayerCase("elu", draw_activation(lambda: nn.ELU(0.7)),
              lambda x, p, m: np.where(x > 0, x, 0.7 * np.expm1(x)), domain="distinct"),
    LayerCase("gelu", draw_activation(nn.GELU), lambda x, p, m: _gelu(x)),
    LayerCase("silu", draw_activation(nn.SiLU), lambda x, p, m: x * ref.sigmoid(x)),
    LayerCase("sigmoid", draw_activation(nn.Sigmoid), lambda x, p, m: ref.sigmoid(x)),
    LayerCase("tanh", draw_activation(nn.Tanh), lambda x, p, m: np.tanh(x)),
    LayerCase("softplus", draw_activation(nn.Softplus), lambda x, p, m: _softplus(x)),
    LayerCase("softplus_beta", draw_activation(lambda: nn.Softplus(beta=2.0)), lambda x, p, m: _softplus(2 * x) / 2),
    LayerCase("softmax", draw_activation(lambda: nn.Softmax(axis=0)),
              lambda x, p, m: np.exp(_log_softmax(x, 0))),
    LayerCase("log_softmax", draw_activation(nn.LogSoftmax), lambda x, p, m: _log_softmax(x, -1)),
    LayerCase("identity", draw_activation(nn.Identity), lambda x, p, m: x),
    LayerCase("flatten", lambda d: (nn.Flatten(), d.draw(mst.shapes(2, 4, 1, 3))),
              lambda x, p, m: x.reshape(x.shape[0], -1)),
    LayerCase("unflatten", lambda d: (nn.Unflatten(1, (2, 3)), (d.draw(st.integers(1, 2)), 6)),
              lambda x, p, m: x.reshape(x.shape[0], 2, 3)),
    LayerCase("dropout_p0", draw_activation(lambda: nn.Dropout(0.0)), lambda x, p, m: x),
]
IDS = [c.name for c in CASES]


def build(case: LayerCase, data):
    """The float64 layer (seeded from the draw) and an input for it."""
    mg.manual_seed(data.draw(st.integers(0, 2**31 - 1), label="seed"))
    module, shape = case.draw(data)
    module.double().train(case.train)
    seed = data.draw(st.integers(0, 2**31 - 1), label="input seed")
    if case.integer_input:
        bound = module.num_embeddings
        x = mg.tensor(np.random.default_rng(seed).integers(0, bound, shape))
    else:
        x = mg.tensor(mst.sample_array(seed, shape, np.float64, case.domain), requires_grad=True)
    return module, x


def _flat_output(out):
    """One array for a layer's output, tuples (LSTMCell, LSTM, GRU) flattened in order."""
    if isinstance(out, mg.Tensor):
        return out.numpy()
    if len(out) == 2 and isinstance(out[1], tuple):
        return np.concatenate([out[0].numpy().ravel()] + [t.numpy().ravel() for t in out[1]])
    return np.concatenate([t.numpy().ravel() for t in out])


@pytest.mark.parametrize("case", CASES, ids=IDS)
@given(data=st.data())
def test_forward(case: LayerCase, data):
    module, x = build(case, data)
    params = {k: v.numpy().astype(np.float64) for k, v in module.state_dict().items()}
    expected = case.reference(x.numpy(), params, module)
    out = module(x)
    got = _flat_output(out)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-10, err_msg=case.name)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@given(data=st.data())
def test_gradcheck(case: LayerCase, data):
    module, x = build(case, data)
    params = [p for p in module.parameters()]
    inputs = params if case.integer_input else [x] + params

    def run(*_):
        out = module(x)
        return [out[0], *out[1]] if isinstance(out, tuple) and isinstance(out[1], tuple) else out

    gradcheck(run, inputs, atol=1e-6, rtol=1e-4)
