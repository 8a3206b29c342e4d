"""Pooling: max_pool2d, avg_pool2d and upsample_nearest against nested-loop NumPy definitions, gradients
(well-separated values for max pooling, so no window has a tie), second derivatives, and the errors."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigen as mg
import minigen.functional as F
from minigen.testing import strategies as mst
from ops.factory import Case, OpSpec, make_tests


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _pool_loops(x, reduce, fill, kernel_size, stride=None, padding=0):
    """out[n, c, i, j] = reduce(x_pad[n, c, i sh:i sh + kh, j sw:j sw + kw])."""
    (kh, kw), (ph, pw) = _pair(kernel_size), _pair(padding)
    sh, sw = (kh, kw) if stride is None else _pair(stride)
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    ho, wo = (xpad.shape[2] - kh) // sh + 1, (xpad.shape[3] - kw) // sw + 1
    out = np.zeros(x.shape[:2] + (ho, wo))
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i in range(ho):
                for j in range(wo):
                    out[n, c, i, j] = reduce(xpad[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw])
    return out


def max_pool2d_loops(x, **params):
    return _pool_loops(x, np.max, -np.inf, **params)


def avg_pool2d_loops(x, **params):
    return _pool_loops(x, np.mean, 0.0, **params)


def upsample_nearest_loops(x, scale_factor):
    out = np.zeros(x.shape[:2] + tuple(s * scale_factor for s in x.shape[2:]))
    for index in np.ndindex(*out.shape):
        out[index] = x[index[:2] + tuple(i // scale_factor for i in index[2:])]
    return out


@st.composite
def pool_cases(draw, max_size=6):
    """A kernel (int or pair), a stride (None, int or pair), padding at most half the kernel, and an input
    at least as large as the padded kernel."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    size = tuple(draw(st.integers(max(1, k - 2 * p), max_size)) for k, p in zip(kernel, padding))
    stride = draw(st.one_of(st.none(), st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    params = dict(kernel_size=kernel[0] if kernel[0] == kernel[1] and draw(st.booleans()) else kernel,
                  stride=stride, padding=padding)
    return Case(((draw(st.integers(1, 2)), draw(st.integers(1, 3))) + size,), params)


@st.composite
def upsample_cases(draw):
    spatial = draw(st.lists(st.integers(1, 3), min_size=1, max_size=2))
    return Case(((draw(st.integers(1, 2)), draw(st.integers(1, 2)), *spatial),),
                dict(scale_factor=draw(st.integers(1, 3))))


SPECS = [
    OpSpec("max_pool2d", F.max_pool2d, max_pool2d_loops, pool_cases(), domains=("distinct",), gradgrad=True),
    OpSpec("avg_pool2d", F.avg_pool2d, avg_pool2d_loops, pool_cases(), gradgrad=True),
    OpSpec("upsample_nearest", F.upsample_nearest, upsample_nearest_loops, upsample_cases()),
]

test_forward, test_gradcheck, test_gradgradcheck, test_on_cuda = make_tests(SPECS)


@given(case=pool_cases(), seed=st.integers(0, 2**31 - 1))
def test_max_pool2d_gradient_goes_to_each_windows_argmax(case, seed):
    """Every output's gradient lands on exactly one input element, the maximum of its window; overlapping
    windows that share their maximum add up, so the gradient sums to the output gradient's sum."""
    x = mg.tensor(mst.sample_array(seed, case.shapes[0], domain="distinct"), requires_grad=True)
    y = F.max_pool2d(x, **case.params)
    v = mst.sample_array(seed + 1, y.shape)
    y.backward(mg.tensor(v))
    g = x.grad.numpy()
    assert np.isclose(g.sum(), v.sum())
    assert set(np.unique(x.numpy()[g != 0])) <= set(np.unique(y.numpy()))


BAD_CALLS = [
    ("max_pool2d", lambda: F.max_pool2d(mg.zeros(3, 4, 4), 2), r"4-D input"),
    ("max_pool2d", lambda: F.max_pool2d(mg.zeros(1, 1, 4, 4), 2, padding=2), r"at most half"),
    ("max_pool2d", lambda: F.max_pool2d(mg.zeros(1, 1, 2, 2), 3), r"output size \(0, 0\)"),
    ("avg_pool2d", lambda: F.avg_pool2d(mg.zeros(1, 1, 4, 4), 2, stride=0), r"stride >= 1"),
    ("upsample_nearest", lambda: F.upsample_nearest(mg.zeros(1, 1, 4, 4), 1.5), r"positive integer"),
    ("upsample_nearest", lambda: F.upsample_nearest(mg.zeros(4, 4), 2), r"at least one spatial axis"),
]


@pytest.mark.parametrize("op, call, message", BAD_CALLS)
def test_bad_arguments_are_named_before_computing(op, call, message):
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert str(info.value).startswith(op + ":") and "cpu" in str(info.value)
