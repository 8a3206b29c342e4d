"""In-place ops and item assignment: values, PyTorch's rules (allowed without grad, refused on a leaf that
requires grad unless under no_grad, refused on graph values), and the version check that refuses a
backward through a tensor modified after its use."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigen as mg


def test_values_and_return_self():
    x = mg.tensor(np.arange(6.0).reshape(2, 3))
    assert x.add_(1) is x
    np.testing.assert_array_equal(x.numpy(), np.arange(1.0, 7.0).reshape(2, 3))
    x.add_(mg.tensor(np.array([1.0, 2.0, 3.0])), alpha=2)  # broadcast, scaled
    np.testing.assert_array_equal(x.numpy(), np.arange(1.0, 7.0).reshape(2, 3) + [2, 4, 6])
    x.mul_(0.5).mul_(np.array([[2.0], [1.0]]))
    np.testing.assert_array_equal(x.numpy(), [[3, 6, 9], [3, 4.5, 6]])
    assert x.fill_(7).zero_() is x
    np.testing.assert_array_equal(x.numpy(), np.zeros((2, 3)))
    assert x.dtype == np.float64


@given(seed=st.integers(0, 2**31 - 1), value=st.sampled_from([0, -1.5, "tensor", "array"]))
def test_item_assignment_matches_numpy(seed, value):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(3, 4))
    mask = rng.random((3, 4)) < 0.5
    y = mg.tensor(a)
    expected = a.copy()
    if value == "tensor":
        v, w = mg.tensor(np.full(int(mask.sum()), 2.0)), np.full(int(mask.sum()), 2.0)
    elif value == "array":
        v = w = np.full(int(mask.sum()), 3.0)
    else:
        v = w = value
    y[mg.tensor(mask)] = v
    expected[mask] = w
    np.testing.assert_array_equal(y.numpy(), expected)
    y[0] = 9.0
    y[1:, ::2] = mg.tensor(np.array([4.0, 5.0]))
    expected[0] = 9.0
    expected[1:, ::2] = [4.0, 5.0]
    y[np.array([2, 0]), mg.tensor([1, 3])] = -2.0
    expected[np.array([2, 0]), np.array([1, 3])] = -2.0
    np.testing.assert_array_equal(y.numpy(), expected)


def test_integer_and_boolean_tensors():
    counts = mg.zeros(3, dtype=mg.int64)
    counts.add_(2)
    counts[counts > 1] = 5
    np.testing.assert_array_equal(counts.numpy(), [5, 5, 5])
    with pytest.raises(TypeError, match=r"add_: .*\(tensor \(3,\) int64 on cpu\)"):
        counts.add_(0.5)  # in place never promotes: int64 += 0.5 is refused, as in PyTorch
    with pytest.raises(ValueError, match=r"add_: .*broadcast.*\(tensor \(3,\) int64"):
        counts.add_(mg.ones(2, 3, dtype=mg.int64))
    np.testing.assert_array_equal(counts.numpy(), [5, 5, 5])


def test_a_leaf_that_requires_grad_only_under_no_grad():
    w = mg.tensor(np.ones(3), requires_grad=True)
    for op in (lambda: w.zero_(), lambda: w.add_(1.0), lambda: w.mul_(2.0), lambda: w.fill_(0.0)):
        with pytest.raises(RuntimeError, match=r"a leaf tensor that requires grad \(shape \(3,\)\) cannot be "
                                               r"modified in place .* mg.no_grad\(\)"):
            op()
    with pytest.raises(RuntimeError, match="setitem: a leaf tensor that requires grad"):
        w[0] = 0.0
    np.testing.assert_array_equal(w.numpy(), np.ones(3))
    with mg.no_grad():
        w.mul_(3.0)
        w[1] = 0.0
    np.testing.assert_array_equal(w.numpy(), [3.0, 0.0, 3.0])
    assert w.requires_grad and w.is_leaf


def test_graph_values_and_grad_requiring_values_are_refused():
    x = mg.tensor(np.ones(2), requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="zero_: cannot modify in place a tensor made by Mul that requires grad"):
        y.zero_()
    with mg.no_grad():
        with pytest.raises(RuntimeError, match="made by Mul"):
            y[0] = 1.0
    z = mg.zeros(2, dtype=mg.float64)
    with pytest.raises(RuntimeError, match="setitem: the value requires grad"):
        z[:] = x


def test_modified_after_use_refuses_backward():
    w = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    mask = mg.tensor(np.array([1.0, 1.0]))
    mask.mul_(3.0)  # before use: fine
    y = (w * mask).sum()
    y.backward(retain_graph=True)
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 3.0])
    mask.zero_()  # after use: the saved input changed
    with pytest.raises(RuntimeError, match=r"backward: input 1 of Mul \(shape \(2,\)\) was modified in place "
                                           r"after Mul used it"):
        y.backward()
    with mg.no_grad():
        w.add_(1.0)  # an optimizer step between forward and backward
    loss = (w * w).sum()
    with mg.no_grad():
        w.add_(1.0)
    with pytest.raises(RuntimeError, match="input 0 of Mul"):
        loss.backward()
