"""The NumPy references (the CPU path of every kernel Function): forward against the composition of plain
minigen ops, gradients against float64 central differences (first and second order), and the properties
that make each kernel what it is (PixelCNN causality, sigma = the top singular value, Adam's first step)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigen as mg
import minigen.functional as F
from minigen import optim
from minigen.kernels import adam, bias_act, implicit_gemm, masked_conv2d, maxout, spectral_norm
from minigen.testing import gradcheck, gradgradcheck
from minigen.testing import strategies as mst

seeds = st.integers(0, 2**16)


def _tensor(rng, shape, requires_grad=True):
    return mg.tensor(rng.standard_normal(shape), requires_grad=requires_grad)


# ----------------------------------------------------------------------------------- implicit_gemm

@given(geo=mst.conv_geometries(max_size=5, max_channels=4), data=st.data(), bias=st.booleans(), seed=seeds)
def test_implicit_gemm_references_are_conv2d_and_its_gradients_over_the_chosen_taps(geo, data, bias, seed):
    """reference_conv over a tap subset == F.conv2d with the other taps' weights zero; grad_input and
    grad_weight == the engine's gradients of that conv (grad_weight read at the chosen taps)."""
    kh, kw = geo.kernel
    chosen = data.draw(st.lists(st.integers(0, kh * kw - 1), unique=True, max_size=kh * kw), label="taps")
    taps = tuple(np.array(v, np.int32).reshape(-1) for v in ([k // kw for k in chosen], [k % kw for k in chosen]))
    rng = np.random.default_rng(seed)
    x = _tensor(rng, geo.input_shape)
    wp = rng.standard_normal((geo.out_channels, geo.in_channels // geo.groups, len(chosen)))
    w_full = np.zeros(geo.weight_shape)
    w_full[:, :, taps[0], taps[1]] = wp
    w = mg.tensor(w_full, requires_grad=True)
    b = _tensor(rng, (geo.out_channels,)) if bias else None
    y = F.conv2d(x, w, b, geo.stride, geo.padding, geo.dilation, geo.groups)
    pair = lambda v: (v, v)  # noqa: E731
    geometry = dict(stride=pair(geo.stride), padding=pair(geo.padding), dilation=pair(geo.dilation), groups=geo.groups)
    got = implicit_gemm.reference_conv(x.numpy(), wp, None if b is None else b.numpy(), taps, out_size=y.shape[2:],
                                       **geometry)
    np.testing.assert_allclose(got, y.numpy(), rtol=1e-10, atol=1e-12)
    gy = rng.standard_normal(y.shape)
    gx, gw = mg.grad(y, [x, w], mg.tensor(gy))
    np.testing.assert_allclose(implicit_gemm.reference_conv_grad_input(gy, wp, taps, image_size=x.shape[2:], **geometry),
                               gx.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(implicit_gemm.reference_conv_grad_weight(x.numpy(), gy, taps, **geometry),
                               gw.numpy()[:, :, taps[0], taps[1]], rtol=1e-10, atol=1e-12)


def test_all_taps_is_the_row_major_order_of_the_weight():
    dy, dx = implicit_gemm.all_taps(2, 3)
    assert dy.dtype == dx.dtype == np.int32
    w = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(w[dy, dx], w.reshape(-1))


# ----------------------------------------------------------------------------------- masked_conv2d

@st.composite
def masked_geometries(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    pad = tuple(draw(st.integers(0, 2)) for _ in range(4))
    h = draw(st.integers(max(1, kh - pad[0] - pad[1]), 4))
    w = draw(st.integers(max(1, kw - pad[2] - pad[3]), 4))
    return draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2)), h, w, kh, kw, pad


def _composed_masked_conv(x, w, b, mask_type, pad):
    """conv2d(pad(x), w * mask): plain minigen ops."""
    mask = mg.tensor(masked_conv2d.pixelcnn_mask(*w.shape[2:], mask_type).astype(w.dtype))
    top, bottom, left, right = pad
    return F.conv2d(mg.pad(x, (left, right, top, bottom)), w * mask, b)


@given(geo=masked_geometries(), mask_type=st.sampled_from(masked_conv2d.MASK_TYPES), bias=st.booleans(), seed=seeds)
def test_masked_conv2d_matches_conv2d_of_masked_weight_and_its_gradients(geo, mask_type, bias, seed):
    n, c, o, h, w, kh, kw, pad = geo
    rng = np.random.default_rng(seed)
    inputs = [_tensor(rng, (n, c, h, w)), _tensor(rng, (o, c, kh, kw))] + ([_tensor(rng, (o,))] if bias else [])
    y = masked_conv2d.masked_conv2d(*inputs[:2], inputs[2] if bias else None, mask_type, pad)
    want = _composed_masked_conv(*inputs[:2], inputs[2] if bias else None, mask_type, pad)
    np.testing.assert_allclose(y.numpy(), want.numpy(), rtol=1e-10, atol=1e-12)
    gy = mg.tensor(rng.standard_normal(y.shape))
    got = mg.grad(y, inputs, gy)
    ref = mg.grad(_composed_masked_conv(*inputs[:2], inputs[2] if bias else None, mask_type, pad), inputs, gy)
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
    fn = lambda *t: masked_conv2d.masked_conv2d(t[0], t[1], t[2] if bias else None, mask_type, pad)  # noqa: E731
    assert gradcheck(fn, inputs)


@pytest.mark.parametrize("mask_type", ["A", "B", "V_B", "H_A"])
def test_masked_conv2d_second_derivatives(mask_type):
    rng = np.random.default_rng(1)
    x, w, b = _tensor(rng, (2, 2, 3, 4)), _tensor(rng, (2, 2, 3, 3)), _tensor(rng, (2,))
    assert gradgradcheck(lambda x, w, b: masked_conv2d.masked_conv2d(x, w, b, mask_type), [x, w, b])


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_masked_conv2d_is_causal_in_raster_order(mask_type):
    """Output pixel (i, j) depends on input pixels strictly before it (and itself for mask B) only."""
    rng = np.random.default_rng(0)
    x, w = _tensor(rng, (1, 1, 5, 5)), _tensor(rng, (1, 1, 5, 5))
    y = masked_conv2d.masked_conv2d(x, w, None, mask_type)
    for i, j in [(0, 0), (2, 3), (4, 4)]:
        g, = mg.grad(y[0, 0, i, j], [x], retain_graph=True)
        order = np.arange(25).reshape(5, 5)
        allowed = order < i * 5 + j if mask_type == "A" else order <= i * 5 + j
        assert not g.numpy()[0, 0][~allowed].any()
        assert g.numpy()[0, 0][allowed].any() or (i, j) == (0, 0)


def test_masked_conv2d_masked_taps_get_zero_gradient_and_bad_input_is_named():
    rng = np.random.default_rng(0)
    x, w = _tensor(rng, (1, 2, 4, 4)), _tensor(rng, (3, 2, 3, 3))
    masked_conv2d.masked_conv2d(x, w, None, "A").sum().backward()
    assert not w.grad.numpy()[:, :, masked_conv2d.pixelcnn_mask(3, 3, "A") == 0].any()
    with pytest.raises(ValueError, match="unknown mask type 'C'"):
        masked_conv2d.masked_conv2d(x, w, None, "C")
    with pytest.raises(ValueError, match=r"weight \(3, 3, 3, 3\)"):
        masked_conv2d.masked_conv2d(x, _tensor(rng, (3, 3, 3, 3)))


def test_gated_pixelcnn_masks():
    assert masked_conv2d.pixelcnn_mask(3, 3, "V_A").tolist() == [[1, 1, 1], [0, 0, 0], [0, 0, 0]]
    assert masked_conv2d.pixelcnn_mask(3, 3, "V_B").tolist() == [[1, 1, 1], [1, 1, 1], [0, 0, 0]]
    assert masked_conv2d.pixelcnn_mask(1, 3, "H_A").tolist() == [[1, 0, 0]]
    assert masked_conv2d.pixelcnn_mask(1, 3, "H_B").tolist() == [[1, 1, 0]]


# ------------------------------------------------------------------------------------------ maxout

@given(x=mst.tensors(shape=st.tuples(st.integers(1, 2), st.sampled_from([2, 4, 6]), st.integers(1, 3)),
                     domain="distinct"), pieces=st.sampled_from([1, 2]), axis=st.sampled_from([1, -2]))
def test_maxout_matches_reshape_max_and_its_gradients(x, pieces, axis):
    y = maxout.maxout(x, pieces, axis)
    want = F.maxout(x, pieces, axis)
    np.testing.assert_array_equal(y.numpy(), want.numpy())
    gy = mg.tensor(np.random.default_rng(0).standard_normal(y.shape))
    np.testing.assert_array_equal(mg.grad(y, [x], gy)[0].numpy(), mg.grad(want, [x], gy)[0].numpy())
    assert gradcheck(lambda x: maxout.maxout(x, pieces, axis), [x])
    assert gradgradcheck(lambda x: maxout.maxout(x, pieces, axis), [x])


def test_maxout_argmax_dtype_and_errors():
    x = np.arange(2 * 256 * 3, dtype=np.float64).reshape(2, 256, 3)
    assert maxout.reference_maxout(x, 2)[1].dtype == np.int8
    assert maxout.reference_maxout(x, 128)[1].dtype == np.int32
    with pytest.raises(ValueError, match="not divisible by 3 pieces"):
        maxout.maxout(mg.tensor(x), 3)


# ----------------------------------------------------------------------------------- spectral_norm

@given(shape=st.sampled_from([(3, 4), (4, 2, 2), (1, 3), (5, 1)]), seed=seeds)
def test_spectral_norm_is_w_over_u_w_v_with_constant_u_v(shape, seed):
    rng = np.random.default_rng(seed)
    w = _tensor(rng, shape)
    u, v = rng.standard_normal(shape[0]), rng.standard_normal(int(np.prod(shape[1:])))
    y = spectral_norm.spectral_norm(w, u, v, n_power_iterations=2)
    mat = w.reshape(shape[0], -1)
    uv = mg.tensor(np.outer(u, v).reshape(shape))  # u, v now hold the iterated vectors
    composed = w / (w * uv).sum()
    np.testing.assert_allclose(y.numpy(), composed.numpy(), rtol=1e-10)
    np.testing.assert_allclose(u, spectral_norm._normalize(mat.numpy() @ v, 1e-12), rtol=1e-10)
    gy = mg.tensor(rng.standard_normal(shape))
    np.testing.assert_allclose(mg.grad(y, [w], gy)[0].numpy(), mg.grad(composed, [w], gy)[0].numpy(), rtol=1e-9)
    frozen = lambda w: spectral_norm.spectral_norm(w, u, v, n_power_iterations=0)  # noqa: E731
    assert gradcheck(frozen, [w])
    assert gradgradcheck(frozen, [w])


def test_spectral_norm_persistent_u_converges_to_the_top_singular_value():
    rng = np.random.default_rng(0)
    w = mg.tensor(rng.standard_normal((6, 3, 2, 2)))
    u, v = rng.standard_normal(6), np.zeros(12)
    for _ in range(200):
        y = spectral_norm.spectral_norm(w, u, v)
    top = np.linalg.svd(w.numpy().reshape(6, -1), compute_uv=False)[0]
    np.testing.assert_allclose(w.numpy() / y.numpy(), top, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(u), 1, rtol=1e-12)
    with pytest.raises(ValueError, match=r"u of shape \(6,\)"):
        spectral_norm.spectral_norm(w, np.zeros(5), v)


# ---------------------------------------------------------------------------------------- bias_act

def _composed_bias_act(x, b, act, slope, axis):
    z = x + b.reshape((b.shape[0],) + (1,) * (x.ndim - axis - 1))
    if act == "linear":
        return z
    return F.leaky_relu(z, slope) if act == "leaky_relu" else getattr(F, act)(z)


@given(shape=st.sampled_from([(3, 4), (2, 3, 2, 2), (5,), (2, 1, 3)]), axis=st.sampled_from([0, 1, -1]),
       act=st.sampled_from(list(bias_act.ACTIVATIONS)), seed=seeds)
def test_bias_act_matches_add_then_activation_and_its_gradients(shape, axis, act, seed):
    axis = axis % len(shape)
    rng = np.random.default_rng(seed)
    x, b = _tensor(rng, shape), _tensor(rng, (shape[axis],))
    fn = lambda x, b: bias_act.bias_act(x, b, act, 0.2, axis)  # noqa: E731
    y, want = fn(x, b), _composed_bias_act(x, b, act, 0.2, axis)
    np.testing.assert_allclose(y.numpy(), want.numpy(), rtol=1e-12, atol=1e-15)
    gy = mg.tensor(rng.standard_normal(shape))
    for a, r in zip(mg.grad(y, [x, b], gy), mg.grad(want, [x, b], gy)):
        np.testing.assert_allclose(a.numpy(), r.numpy(), rtol=1e-12, atol=1e-15)
    assert gradcheck(fn, [x, b])
    assert gradgradcheck(fn, [x, b])


def test_bias_act_errors_name_the_problem():
    x = mg.tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        bias_act.bias_act(x, mg.tensor(np.zeros(3)), "gelu")
    with pytest.raises(ValueError, match=r"bias of shape \(2,\) does not match axis 1"):
        bias_act.bias_act(x, mg.tensor(np.zeros(2)))


# -------------------------------------------------------------------------------------------- adam

@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam_reference_matches_minigen_optim_adam(weight_decay):
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (5,)]
    params = [mg.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    arrays = [p.numpy().copy() for p in params]
    m, v = [np.zeros(s) for s in shapes], [np.zeros(s) for s in shapes]
    opt = optim.Adam(params, lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=weight_decay)
    for step in range(1, 6):
        grads = [rng.standard_normal(s) for s in shapes]
        for p, g in zip(params, grads):
            p.grad = mg.tensor(g)
        opt.step()
        adam.adam_step(arrays, grads, m, v, step, lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=weight_decay)
        for p, a in zip(params, arrays):
            np.testing.assert_allclose(a, p.numpy(), rtol=1e-12, atol=1e-15)


def test_adam_first_step_moves_each_parameter_by_lr_against_the_gradient_sign():
    rng = np.random.default_rng(0)
    p = rng.standard_normal(50).astype(np.float32)
    g = rng.standard_normal(50).astype(np.float32)
    before = p.copy()
    adam.adam_step([p], [g], [np.zeros_like(p)], [np.zeros_like(p)], 1, lr=0.1, eps=0.0)
    assert p.dtype == np.float32
    np.testing.assert_allclose(p - before, -0.1 * np.sign(g), rtol=1e-5)


def test_adam_step_checks_its_arguments():
    a = np.zeros(3)
    with pytest.raises(ValueError, match="step counts from 1"):
        adam.adam_step([a], [a], [a], [a], 0)
    with pytest.raises(ValueError, match=r"parameter 0: .* shapes \[\(3,\), \(2,\), \(3,\), \(3,\)\]"):
        adam.adam_step([a], [np.zeros(2)], [a], [a], 1)
