"""Elementwise ops: arithmetic with broadcasting, unary functions, maximum/minimum, comparisons."""
import operator

import numpy as np
import pytest
from hypothesis import strategies as st
from scipy import special

import minigen as mg
from minigen.ops import elementwise
from ops.factory import OpSpec, broadcast_pair, make_tests, unary

SCALAR = st.sampled_from([-1.5, 0.5, 2.0, 3])


def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


SPECS = [
    OpSpec("add", operator.add, np.add, broadcast_pair()),
    OpSpec("sub", operator.sub, np.subtract, broadcast_pair()),
    OpSpec("mul", operator.mul, np.multiply, broadcast_pair(), gradgrad=True),
    OpSpec("div", operator.truediv, np.divide, broadcast_pair(), domains=("real", "nonzero"), gradgrad=True),
    OpSpec("pow", operator.pow, np.power, broadcast_pair(), domains=("positive", "real"), gradgrad=True),
    OpSpec("pow_scalar", lambda x, p: x ** p, lambda x, p: x ** p, unary(p=SCALAR), domains=("positive",),
           gradgrad=True),
    OpSpec("pow_integer_negative_base", lambda x, p: x ** p, lambda x, p: x ** p,
           unary(p=st.sampled_from([2, 3])), gradgrad=True),
    OpSpec("rpow", lambda x, c: c ** x, lambda x, c: c ** x, unary(c=st.sampled_from([0.5, 2.0, 3]))),
    OpSpec("neg", operator.neg, np.negative, unary()),
    OpSpec("add_scalar", lambda x, c: x + c, lambda x, c: x + c, unary(c=SCALAR)),
    OpSpec("rsub_scalar", lambda x, c: c - x, lambda x, c: c - x, unary(c=SCALAR)),
    OpSpec("mul_scalar", lambda x, c: c * x, lambda x, c: c * x, unary(c=SCALAR)),
    OpSpec("div_scalar", lambda x, c: x / c, lambda x, c: x / c, unary(c=SCALAR)),
    OpSpec("rdiv_scalar", lambda x, c: c / x, lambda x, c: c / x, unary(c=SCALAR), domains=("nonzero",),
           gradgrad=True),
    OpSpec("exp", mg.exp, np.exp, unary(), gradgrad=True),
    OpSpec("log", lambda x: x.log(), np.log, unary(), domains=("positive",), gradgrad=True),
    OpSpec("expm1", mg.expm1, np.expm1, unary(), gradgrad=True),
    OpSpec("log1p", lambda x: x.log1p(), np.log1p, unary(), domains=("positive",), gradgrad=True),
    OpSpec("sqrt", mg.sqrt, np.sqrt, unary(), domains=("positive",), gradgrad=True),
    OpSpec("erf", elementwise.erf, special.erf, unary(), gradgrad=True),
    OpSpec("erfc", elementwise.erfc, special.erfc, unary(), gradgrad=True),
    OpSpec("abs", lambda x: x.abs(), np.abs, unary(), domains=("nonzero",), gradgrad=True),
    OpSpec("clip", lambda x, lo, hi: x.clip(lo, hi), lambda x, lo, hi: np.clip(x, lo, hi),
           unary(lo=st.sampled_from([None, -0.15]), hi=st.sampled_from([None, 0.25])), domains=("distinct",),
           gradgrad=True),
    OpSpec("sigmoid", lambda x: x.sigmoid(), _np_sigmoid, unary(), gradgrad=True),
    OpSpec("tanh", mg.tanh, np.tanh, unary(), gradgrad=True),
    OpSpec("relu", lambda x: x.relu(), lambda x: np.maximum(x, 0), unary(), domains=("distinct",),
           gradgrad=True),
    OpSpec("softplus", mg.softplus, lambda x: np.log1p(np.exp(x)), unary(), gradgrad=True),
    OpSpec("maximum", mg.maximum, np.maximum, broadcast_pair(), domains=("distinct", "real"), gradgrad=True),
    OpSpec("minimum", mg.minimum, np.minimum, broadcast_pair(), domains=("distinct", "real"), gradgrad=True),
    OpSpec("maximum_scalar", lambda x: mg.maximum(x, 0.1), lambda x: np.maximum(x, 0.1), unary(),
           domains=("distinct",)),
    OpSpec("minimum_scalar", lambda x: mg.minimum(0.1, x), lambda x: np.minimum(0.1, x), unary(),
           domains=("distinct",)),
] + [OpSpec(f"compare_{name}", op, op, broadcast_pair(), differentiable=False)
     for name, op in [("eq", operator.eq), ("ne", operator.ne), ("lt", operator.lt), ("le", operator.le),
                      ("gt", operator.gt), ("ge", operator.ge)]]

test_forward, test_gradcheck, test_gradgradcheck, test_on_cuda = make_tests(SPECS)


def test_maximum_and_minimum_split_ties_evenly():
    a = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = mg.tensor([1.0, 5.0, 3.0], requires_grad=True)
    (mg.maximum(a, b) * mg.tensor([2.0, 4.0, 8.0])).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 0.0, 4.0])
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 4.0, 4.0])
    a.grad = b.grad = None
    mg.minimum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 1.0, 0.5])
    np.testing.assert_array_equal(b.grad.numpy(), [0.5, 0.0, 0.5])


def test_comparisons_with_scalars_and_on_the_left():
    x = mg.tensor([0.0, 1.0, 2.0], requires_grad=True)
    np.testing.assert_array_equal((x > 0.5).numpy(), [False, True, True])
    np.testing.assert_array_equal((1.0 == x).numpy(), [False, True, False])
    np.testing.assert_array_equal((np.array([2.0, 2.0, 2.0]) <= x).numpy(), [False, False, True])


def test_stable_at_extreme_inputs():
    x = mg.tensor(np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0]), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s, sp = x.sigmoid(), x.softplus()
    np.testing.assert_allclose(s.numpy(), [0.0, _np_sigmoid(-50.0), 0.5, 1.0, 1.0], rtol=1e-12, atol=0)
    np.testing.assert_allclose(sp.numpy(), [0.0, np.log1p(np.exp(-50.0)), np.log(2), 50.0, 1000.0],
                               rtol=1e-12)
    sp.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), s.numpy(), rtol=1e-12)


def test_relu_at_infinities_and_signed_zero_matches_torch():
    """relu(-inf) = 0 (not -inf * 0 = nan), relu(-1) = +0.0 (not -0.0), relu(nan) = nan, as in PyTorch."""
    for dtype in (np.float32, np.float64):
        y = mg.tensor(np.array([-np.inf, -1.0, -0.0, 2.0, np.inf, np.nan], dtype)).relu().numpy()
        assert y.dtype == dtype
        np.testing.assert_array_equal(y, np.array([0, 0, 0, 2, np.inf, np.nan], dtype))
        assert not np.signbit(y[:3]).any(), y


def test_pow_gradient_of_the_exponent_on_a_tensor_base():
    a = mg.tensor(np.array([2.0, 3.0]), requires_grad=True)
    b = mg.tensor(np.array([3.0, 0.5]), requires_grad=True)
    (a ** b).sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), [8 * np.log(2), np.sqrt(3) * np.log(3)], rtol=1e-12)
    np.testing.assert_allclose(a.grad.numpy(), [12.0, 0.5 / np.sqrt(3)], rtol=1e-12)


def test_gradient_only_flows_to_inputs_that_require_it():
    a = mg.tensor(np.ones(3), requires_grad=True)
    b = mg.tensor(np.full(3, 2.0))
    (a * b / b - b).sum().backward()
    assert b.grad is None
    np.testing.assert_allclose(a.grad.numpy(), np.ones(3))


def test_broadcasting_failure_names_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"Add: .*\(2, 3\).*\(4,\)"):
        mg.ones(2, 3) + mg.ones(4)
    with pytest.raises(ValueError, match=r"gt: .*\(2, 3\).*\(4,\)"):
        _ = mg.ones(2, 3) > mg.ones(4)
