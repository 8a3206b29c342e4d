"""Reductions (sum mean max min var logsumexp, with axis/keepdims), softmax/log_softmax and cumsum."""
import numpy as np
import pytest

from hypothesis import strategies as st

import minigen as mg
import minigen.functional as F
from ops.factory import Case, OpSpec, along_axis, make_tests, reduction


def _np_logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    y = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return y if keepdims else np.squeeze(y, axis=axis)


def _np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_log_softmax(x, axis):
    return np.log(_np_softmax(x, axis))


def _np_cumsum(x, axis, reverse):
    return np.flip(np.cumsum(np.flip(x, axis), axis=axis), axis) if reverse else np.cumsum(x, axis=axis)


@st.composite
def cumsum_cases(draw) -> Case:
    """along_axis's shapes and axis, and the direction."""
    case = draw(along_axis(max_side=4))
    return Case(case.shapes, {**case.params, "reverse": draw(st.booleans())})


def _method(name):
    return lambda x, **kw: getattr(x, name)(**kw)


SPECS = [
    OpSpec("sum", _method("sum"), np.sum, reduction()),
    OpSpec("mg.sum", mg.sum, np.sum, reduction()),
    OpSpec("mean", _method("mean"), np.mean, reduction(), gradgrad=True),
    OpSpec("var", _method("var"), np.var, reduction(), gradgrad=True),
    OpSpec("mg.var", mg.var, np.var, reduction()),
    OpSpec("max", _method("max"), np.max, reduction(), domains=("distinct",), gradgrad=True),
    OpSpec("min", _method("min"), np.min, reduction(), domains=("distinct",), gradgrad=True),
    OpSpec("mg.max", mg.max, np.max, reduction(), domains=("distinct",)),
    OpSpec("logsumexp", _method("logsumexp"), _np_logsumexp, reduction(), gradgrad=True),
    OpSpec("mg.logsumexp", mg.logsumexp, _np_logsumexp, reduction()),
    OpSpec("softmax", _method("softmax"), _np_softmax, along_axis(), gradgrad=True),
    OpSpec("mg.softmax", mg.softmax, _np_softmax, along_axis()),
    OpSpec("log_softmax", _method("log_softmax"), _np_log_softmax, along_axis(), gradgrad=True),
    OpSpec("mg.log_softmax", mg.log_softmax, _np_log_softmax, along_axis()),
    OpSpec("F.cumsum", F.cumsum, _np_cumsum, cumsum_cases(), gradgrad=True),  # backward is a cumsum
]

test_forward, test_gradcheck, test_gradgradcheck, test_on_cuda = make_tests(SPECS)


@pytest.mark.parametrize("name", ["max", "min"])
def test_ties_split_the_gradient_evenly(name):
    x = mg.tensor(np.array([[3.0, 1.0, 3.0, 3.0], [-2.0, 5.0, -2.0, 0.0]]), requires_grad=True)
    y = getattr(x, name)(axis=1)
    y.backward(mg.tensor(np.array([6.0, 4.0])))
    expected = {"max": [[2, 0, 2, 2], [0, 4, 0, 0]], "min": [[0, 6, 0, 0], [2, 0, 2, 0]]}[name]
    np.testing.assert_array_equal(x.grad.numpy(), expected)
    x.grad = None
    getattr(x, name)().backward()
    assert x.grad.numpy().sum() == pytest.approx(1.0)
    assert np.count_nonzero(x.grad.numpy()) == (1 if name == "max" else 2)  # one 5, two -2s


def test_logsumexp_and_softmax_are_stable_for_large_and_infinite_inputs():
    x = mg.tensor(np.array([[1000.0, 1000.0], [-1000.0, -1000.0], [-np.inf, 0.0]]))
    np.testing.assert_allclose(x.logsumexp(axis=1).numpy(), [1000 + np.log(2), -1000 + np.log(2), 0.0])
    np.testing.assert_allclose(x.softmax().numpy(), [[0.5, 0.5], [0.5, 0.5], [0.0, 1.0]])
    np.testing.assert_allclose(x.log_softmax().numpy()[:2], np.full((2, 2), -np.log(2)))
    assert mg.tensor(np.full(3, -np.inf)).logsumexp().item() == -np.inf


def test_gradient_of_sum_of_softmax_is_zero_but_not_of_a_weighted_sum():
    x = mg.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    g, = mg.grad(x.softmax().sum(), [x])
    np.testing.assert_allclose(g.numpy(), 0, atol=1e-15)
    w = np.array([1.0, 2.0, 3.0])
    g, = mg.grad((x.softmax() * mg.tensor(w)).sum(), [x])
    s = _np_softmax(x.numpy(), 0)
    np.testing.assert_allclose(g.numpy(), s * (w - (s * w).sum()))


def test_reductions_reject_bad_axes_and_empty_inputs():
    with pytest.raises(ValueError, match="axis 2 is out of bounds"):
        mg.ones(2, 3).sum(axis=2)
    with pytest.raises(ValueError, match=r"max: reduction of an empty tensor of shape \(0, 3\)"):
        mg.zeros(0, 3).max()


def test_mean_of_float32_stays_float32():
    assert mg.ones(3, 4).mean(axis=0).dtype == np.float32
    assert mg.ones(3, 4).var().dtype == np.float32


def test_cumsum_default_axis_and_the_0d_rule():
    x = mg.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(F.cumsum(x).numpy(), [[0, 1, 3], [3, 7, 12]])
    np.testing.assert_array_equal(F.cumsum(x, 0, reverse=True).numpy(), [[3, 5, 7], [3, 4, 5]])
    assert F.cumsum(mg.tensor(1.5)).item() == 1.5  # a 0-d tensor's one implicit axis (tests/test_graphs_edge_cases.py)
    with pytest.raises(ValueError, match="cumsum: axis 1 is out of bounds"):
        F.cumsum(mg.tensor(1.0), 1)
    with pytest.raises(ValueError, match="cumsum: axis 2 is out of bounds"):
        F.cumsum(x, 2)
