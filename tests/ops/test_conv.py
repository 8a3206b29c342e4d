"""Convolutions: conv2d, conv_transpose2d, conv1d, masked_conv2d against direct nested-loop definitions,
their gradients and second derivatives, the adjoint identity, PixelCNN causality and the error messages."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigen as mg
import minigen.functional as F
from minigen.ops.conv import pixelcnn_mask
from minigen.testing import gradgradcheck
from minigen.testing import strategies as mst
from ops.factory import Case, OpSpec, make_tests


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


# ------------------------------------------------------------------------------- loop references

def conv2d_loops(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """y[n, o, i, j] = b[o] + sum_{c, a, e} x_pad[n, g(o) C/g + c, i sh + a dh, j sw + e dw] w[o, c, a, e]."""
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    n_, _, h, wd = x.shape
    o_, cg, kh, kw = w.shape
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ho, wo = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n_, o_, ho, wo))
    for n in range(n_):
        for o in range(o_):
            g = o // (o_ // groups)
            for i in range(ho):
                for j in range(wo):
                    patch = xpad[n, g * cg:(g + 1) * cg, i * sh:i * sh + dh * (kh - 1) + 1:dh,
                                 j * sw:j * sw + dw * (kw - 1) + 1:dw]
                    out[n, o, i, j] = np.sum(patch * w[o]) + (0.0 if b is None else b[o])
    return out


def conv_transpose2d_loops(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Each input pixel x[n, c, i, j] adds x[n, c, i, j] w[c] to the output at (i sh - ph, j sw - pw),
    spread by the dilation; the output is then cropped by the padding."""
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    (oph, opw) = _pair(output_padding)
    n_, cin, h, wd = x.shape
    _, cg, kh, kw = w.shape
    ho = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    wo = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    full = np.zeros((n_, cg * groups, ho + 2 * ph, wo + 2 * pw))
    for n in range(n_):
        for c in range(cin):
            g = c // (cin // groups)
            for i in range(h):
                for j in range(wd):
                    full[n, g * cg:(g + 1) * cg, i * sh:i * sh + dh * (kh - 1) + 1:dh,
                         j * sw:j * sw + dw * (kw - 1) + 1:dw] += x[n, c, i, j] * w[c]
    out = full[:, :, ph:ph + ho, pw:pw + wo]
    return out if b is None else out + b[None, :, None, None]


def conv1d_loops(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    y = conv2d_loops(x[:, :, None], w[:, :, None], b, (1, stride), (0, padding), (1, dilation), groups)
    return y[:, :, 0]


def masked_conv2d_loops(x, w, b=None, mask_type="A", dilation=1):
    """The masked kernel over x padded so that the kernel centre sits on each output pixel."""
    kh, kw = w.shape[2:]
    top, left = dilation * (kh // 2), dilation * (kw // 2)
    x = np.pad(x, ((0, 0), (0, 0), (top, dilation * (kh - 1) - top), (left, dilation * (kw - 1) - left)))
    return conv2d_loops(x, w * pixelcnn_mask(kh, kw, mask_type), b, dilation=dilation)


# ------------------------------------------------------------------------------------- case strategies

@st.composite
def conv_cases(draw, dims=2, pairs=False, **limits):
    """conv2d/conv1d problems from strategies.conv_geometries; with `pairs`, stride, padding and dilation
    differ per axis (the second axis gets a free stride, more padding and less dilation: still valid)."""
    g = draw(mst.conv_geometries(dims=dims, **limits))
    params = dict(stride=g.stride, padding=g.padding, dilation=g.dilation, groups=g.groups)
    if pairs:
        params.update(stride=(g.stride, draw(st.integers(1, 3))),
                      padding=(g.padding, draw(st.integers(g.padding, 2))),
                      dilation=(g.dilation, draw(st.integers(1, g.dilation))))
    shapes = (g.input_shape, g.weight_shape) + (((g.out_channels,),) if draw(st.booleans()) else ())
    return Case(shapes, params)


@st.composite
def conv_transpose_cases(draw, **limits):
    """conv_transpose2d problems: the transpose of a conv geometry (input = the conv's output, weight laid
    out (in, out/groups, kh, kw)), with an output_padding below max(stride, dilation)."""
    g = draw(mst.conv_geometries(**limits))
    ho, wo = ((s + 2 * g.padding - g.dilation * (k - 1) - 1) // g.stride + 1
              for s, k in zip(g.size, g.kernel))
    op = draw(st.integers(0, max(g.stride, g.dilation) - 1))
    if min((h - 1) * g.stride - 2 * g.padding + g.dilation * (k - 1) + op + 1
           for h, k in zip((ho, wo), g.kernel)) < 1:
        op = 0 if g.stride == 1 else max(g.stride, g.dilation) - 1
    params = dict(stride=g.stride, padding=g.padding, output_padding=op, dilation=g.dilation, groups=g.groups)
    shapes = ((g.batch, g.out_channels, ho, wo), g.weight_shape)
    return Case(shapes + (((g.in_channels,),) if draw(st.booleans()) else ()), params)


@st.composite
def masked_cases(draw):
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    cin, cout = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    shape = (draw(st.integers(1, 2)), cin, draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    bias = ((cout,),) if draw(st.booleans()) else ()
    params = dict(mask_type=draw(st.sampled_from("AB")), dilation=draw(st.integers(1, 2)))
    return Case((shape, (cout, cin, kh, kw)) + bias, params)


TINY = dict(max_size=4, max_kernel=2, max_channels=2)

SPECS = [
    OpSpec("conv2d", F.conv2d, conv2d_loops, conv_cases()),
    OpSpec("conv2d_pairs", F.conv2d, conv2d_loops, conv_cases(pairs=True)),
    OpSpec("conv2d_tiny", F.conv2d, conv2d_loops, conv_cases(**TINY), gradgrad=True),
    OpSpec("conv_transpose2d", F.conv_transpose2d, conv_transpose2d_loops, conv_transpose_cases()),
    OpSpec("conv_transpose2d_tiny", F.conv_transpose2d, conv_transpose2d_loops, conv_transpose_cases(**TINY),
           gradgrad=True),
    OpSpec("conv1d", F.conv1d, conv1d_loops, conv_cases(dims=1)),
    OpSpec("masked_conv2d", F.masked_conv2d, masked_conv2d_loops, masked_cases()),
]

test_forward, test_gradcheck, test_gradgradcheck, test_on_cuda = make_tests(SPECS)


# ---------------------------------------------------------------------------------- beyond the factory

@given(g=mst.conv_geometries(), seed=st.integers(0, 2**31 - 1))
def test_conv_transpose2d_is_the_adjoint_of_conv2d(g, seed):
    """<conv(x, w), y> = <x, conv^T(y, w)>, with the output_padding that gives conv^T x's size back."""
    x, w = (mst.sample_array(seed + k, s) for k, s in enumerate((g.input_shape, g.weight_shape)))
    y = F.conv2d(mg.tensor(x), mg.tensor(w), stride=g.stride, padding=g.padding, dilation=g.dilation,
                 groups=g.groups)
    v = mst.sample_array(seed + 2, y.shape)
    op = tuple((s + 2 * g.padding - g.dilation * (k - 1) - 1) % g.stride for s, k in zip(g.size, g.kernel))
    back = F.conv_transpose2d(mg.tensor(v), mg.tensor(w), stride=g.stride, padding=g.padding,
                              output_padding=op, dilation=g.dilation, groups=g.groups)
    assert back.shape == x.shape
    np.testing.assert_allclose(np.sum(y.numpy() * v), np.sum(x * back.numpy()), rtol=1e-10, atol=1e-10)


def test_second_derivative_through_stacked_convolutions():
    """WGAN-GP's shape of computation: the gradient penalty of a critic with strided, transposed and
    nonlinear layers is differentiable in the critic's weights."""
    rng = np.random.default_rng(0)
    x, w1, w2 = (mg.tensor(rng.standard_normal(s), requires_grad=True)
                 for s in ((2, 1, 5, 5), (2, 1, 3, 3), (2, 3, 2, 2)))

    def critic(x, w1, w2):
        h = F.conv2d(x, w1, stride=2, padding=1).tanh()
        return F.conv_transpose2d(h, w2, stride=2).tanh()

    assert gradgradcheck(critic, [x, w1, w2])

    def penalty(x, w1, w2):
        g, = mg.grad(critic(x, w1, w2).sum(), [x], create_graph=True)
        return ((g * g).sum(axis=(1, 2, 3)) - 1) ** 2

    penalty(x, w1, w2).sum().backward()
    assert w1.grad is not None and np.abs(w1.grad.numpy()).sum() > 0


@pytest.mark.parametrize("mask_type, expected", [
    ("A", [[1, 1, 1], [1, 0, 0], [0, 0, 0]]),
    ("B", [[1, 1, 1], [1, 1, 0], [0, 0, 0]]),
])
def test_pixelcnn_mask_3x3(mask_type, expected):
    np.testing.assert_array_equal(pixelcnn_mask(3, 3, mask_type), expected)


def test_pixelcnn_mask_1x5_and_5x1():
    np.testing.assert_array_equal(pixelcnn_mask(1, 5, "A"), [[1, 1, 0, 0, 0]])
    np.testing.assert_array_equal(pixelcnn_mask(5, 1, "B")[:, 0], [1, 1, 1, 0, 0])


def _raster_dependence(net, shape, seed):
    """dep[i, j] = the (N, C, H, W) gradient magnitude of output pixel (i, j) with respect to the input."""
    x = mg.tensor(mst.sample_array(seed, shape), requires_grad=True)
    y = net(x)
    rng = np.random.default_rng(seed)
    deps = np.zeros(shape[2:] * 2)
    for i in range(shape[2]):
        for j in range(shape[3]):
            v = np.zeros(y.shape)
            v[:, :, i, j] = rng.standard_normal(y.shape[:2])
            g, = mg.grad(y, [x], [mg.tensor(v)], retain_graph=True)
            deps[i, j] = np.abs(g.numpy()).sum(axis=(0, 1))
    return deps


@given(kh=st.integers(1, 4), kw=st.integers(1, 4), h=st.integers(1, 5), w=st.integers(1, 5),
       layers=st.integers(1, 3), seed=st.integers(0, 2**31 - 1))
def test_masked_conv2d_is_causal_in_raster_order(kh, kw, h, w, layers, seed):
    """A mask-A layer followed by mask-B layers: output pixel (i, j) depends on no input pixel at or after
    (i, j) in raster order; a single mask-B layer depends on (i, j) itself but on nothing after it."""
    ws = [mg.tensor(mst.sample_array(seed + k, (2, 2, kh, kw))) for k in range(layers)]

    def stack(x, first="A"):
        for k, wk in enumerate(ws):
            x = F.masked_conv2d(x, wk, mask_type=first if k == 0 else "B").tanh()
        return x

    order = np.arange(h * w).reshape(h, w)
    deps_a = _raster_dependence(stack, (1, 2, h, w), seed)
    deps_b = _raster_dependence(lambda x: stack(x, "B"), (1, 2, h, w), seed)
    for i in range(h):
        for j in range(w):
            assert np.all(deps_a[i, j][order >= order[i, j]] == 0), (i, j)
            assert np.all(deps_b[i, j][order > order[i, j]] == 0), (i, j)
            if kh > 1 and i > 0:
                assert deps_a[i, j][i - 1, j] > 0, (i, j)
            if kw > 1 and j > 0:
                assert deps_a[i, j][i, j - 1] > 0, (i, j)
            assert deps_b[i, j][i, j] > 0, (i, j)


BAD_CALLS = [
    ("conv2d", lambda: F.conv2d(mg.zeros(1, 3, 5, 5), mg.zeros(4, 2, 3, 3)), r"3 channels.*\(1, 3, 5, 5\)"),
    ("conv2d", lambda: F.conv2d(mg.zeros(1, 4, 5, 5), mg.zeros(3, 2, 3, 3), groups=2),
     r"groups=2 must divide"),
    ("conv2d", lambda: F.conv2d(mg.zeros(1, 3, 2, 2), mg.zeros(4, 3, 3, 3)), r"output size \(0, 0\)"),
    ("conv2d", lambda: F.conv2d(mg.zeros(3, 5, 5), mg.zeros(4, 3, 3, 3)), r"4-D input"),
    ("conv2d", lambda: F.conv2d(mg.zeros(1, 3, 5, 5), mg.zeros(4, 3, 3, 3), mg.zeros(3)), r"bias of shape"),
    ("conv2d", lambda: F.conv2d(mg.zeros(1, 3, 5, 5), mg.zeros(4, 3, 3, 3), stride=0), r"stride >= 1"),
    ("conv_transpose2d", lambda: F.conv_transpose2d(mg.zeros(1, 3, 5, 5), mg.zeros(4, 2, 3, 3)),
     r"3 channels.*expects 4"),
    ("conv_transpose2d", lambda: F.conv_transpose2d(mg.zeros(1, 4, 5, 5), mg.zeros(4, 2, 3, 3),
                                                    output_padding=1), r"output_padding \(1, 1\)"),
    ("conv_transpose2d", lambda: F.conv_transpose2d(mg.zeros(1, 3, 5, 5), mg.zeros(3, 2, 3, 3), groups=2),
     r"groups=2 must divide"),
    ("conv_transpose2d", lambda: F.conv_transpose2d(mg.zeros(1, 3, 1, 1), mg.zeros(3, 2, 1, 1), padding=1),
     r"output size \(-1, -1\)"),
    ("conv1d", lambda: F.conv1d(mg.zeros(1, 3, 5, 5), mg.zeros(4, 3, 3)), r"3-D input"),
    ("masked_conv2d", lambda: F.masked_conv2d(mg.zeros(1, 3, 5, 5), mg.zeros(4, 3, 3, 3), mask_type="C"),
     r"mask_type"),
]


@pytest.mark.parametrize("op, call, message", BAD_CALLS)
def test_bad_arguments_are_named_before_computing(op, call, message):
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert str(info.value).startswith(op + ":") and "cpu" in str(info.value)


def test_float32_stays_float32_and_matches_float64():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((2, 4, 7, 7)), rng.standard_normal((6, 2, 3, 3)), rng.standard_normal(6)
    y32 = F.conv2d(*(mg.tensor(a.astype(np.float32)) for a in (x, w, b)), stride=2, padding=1, groups=2)
    y64 = F.conv2d(mg.tensor(x), mg.tensor(w), mg.tensor(b), stride=2, padding=1, groups=2)
    assert y32.dtype == np.float32 and y64.dtype == np.float64
    np.testing.assert_allclose(y32.numpy(), y64.numpy(), rtol=1e-5, atol=1e-5)


def _channels_last(t) -> bool:
    return t.data.transpose(0, 2, 3, 1).flags.c_contiguous


def test_activations_and_input_gradients_stay_channels_last_from_layer_to_layer():
    """What makes the CPU convolutions one copy and one GEMM each (ops/conv.py): a conv's output, the
    elementwise ops after it and the input gradient are channels-last memory, so the next im2col reads
    long contiguous runs; weight gradients are plain C-contiguous arrays; the values stay right."""
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((2, 3, 6, 6)), requires_grad=True)
    w1 = mg.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    w2 = mg.tensor(rng.standard_normal((5, 4, 3, 3)), requires_grad=True)
    b1 = mg.tensor(rng.standard_normal(4), requires_grad=True)
    h = F.relu(F.conv2d(x, w1, b1, padding=1))
    assert _channels_last(h) and not h.data.flags.c_contiguous
    y = F.conv2d(h, w2, stride=2, padding=1)
    (y * y).sum().backward()
    assert _channels_last(x.grad) and w1.grad.data.flags.c_contiguous and w2.grad.data.flags.c_contiguous
    hn = np.maximum(conv2d_loops(x.numpy(), w1.numpy(), b1.numpy(), padding=1), 0)
    np.testing.assert_allclose(h.numpy(), hn, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(y.numpy(), conv2d_loops(hn, w2.numpy(), stride=2, padding=1), rtol=1e-10, atol=1e-10)
